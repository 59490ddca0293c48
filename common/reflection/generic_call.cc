#include "common/reflection/generic_call.h"

#include <grpcpp/support/byte_buffer.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status/grpc_status.h"

namespace agentcom::reflection {

GenericCall::GenericCall(std::unique_ptr<grpc::GenericStub> stub,
                         std::unique_ptr<grpc::CompletionQueue> cq)
    : stub_(std::move(stub)), cq_(std::move(cq)) {}

GenericCall::~GenericCall() {
  cq_->Shutdown();
  void* tag;
  bool ok;
  while (cq_->Next(&tag, &ok)) {
  }
}

bool GenericCall::Wait() {
  void* tag = nullptr;
  bool ok = false;
  if (!cq_->Next(&tag, &ok)) return false;
  return ok;
}

absl::StatusOr<std::unique_ptr<GenericCall>> GenericCall::Start(
    const std::shared_ptr<grpc::Channel>& channel, const std::string& path,
    grpc::ClientContext* context) {
  auto call = std::unique_ptr<GenericCall>(new GenericCall(
      std::make_unique<grpc::GenericStub>(channel), std::make_unique<grpc::CompletionQueue>()));
  call->call_ = call->stub_->PrepareCall(context, path, call->cq_.get());
  call->call_->StartCall(reinterpret_cast<void*>(1));
  if (!call->Wait()) {
    absl::Status status = FromGrpcStatus(call->Finish());
    return absl::Status(status.code(), absl::StrCat("cannot start ", path, ": ", status.message()));
  }
  return call;
}

absl::Status GenericCall::Write(const std::string& message) {
  grpc::Slice slice(message);
  grpc::ByteBuffer buffer(&slice, 1);
  call_->Write(buffer, reinterpret_cast<void*>(2));
  if (!Wait()) return absl::UnavailableError("the stream closed while writing");
  return absl::OkStatus();
}

absl::Status GenericCall::WritesDone() {
  call_->WritesDone(reinterpret_cast<void*>(3));
  if (!Wait()) return absl::UnavailableError("the stream closed");
  return absl::OkStatus();
}

std::optional<std::string> GenericCall::Read() {
  grpc::ByteBuffer buffer;
  call_->Read(&buffer, reinterpret_cast<void*>(4));
  if (!Wait()) return std::nullopt;
  std::vector<grpc::Slice> slices;
  (void)buffer.Dump(&slices);
  std::string out;
  for (const auto& s : slices) {
    out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return out;
}

grpc::Status GenericCall::Finish() {
  if (finished_) return status_;
  finished_ = true;
  call_->Finish(&status_, reinterpret_cast<void*>(5));
  Wait();
  return status_;
}

}  // namespace agentcom::reflection
