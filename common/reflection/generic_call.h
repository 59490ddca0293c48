#ifndef AGENTCOM_COMMON_REFLECTION_GENERIC_CALL_H_
#define AGENTCOM_COMMON_REFLECTION_GENERIC_CALL_H_

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/generic/generic_stub.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace agentcom::reflection {

// A blocking call of any method by path ("/pkg.Service/Method") with
// serialized messages, over gRPC's generic stub. Works for unary and
// streaming methods alike (on the wire every call is a stream). Not
// thread-safe; one call per object.
class GenericCall {
 public:
  // `context` must outlive the call (set metadata and deadline on it first).
  static absl::StatusOr<std::unique_ptr<GenericCall>> Start(
      const std::shared_ptr<grpc::Channel>& channel, const std::string& path,
      grpc::ClientContext* context);
  ~GenericCall();

  absl::Status Write(const std::string& message);
  absl::Status WritesDone();
  // The next message, or nullopt at the end of the stream.
  std::optional<std::string> Read();
  // The call's final status (after Read returned nullopt).
  grpc::Status Finish();

 private:
  GenericCall(std::unique_ptr<grpc::GenericStub> stub,
              std::unique_ptr<grpc::CompletionQueue> cq);
  bool Wait();

  std::unique_ptr<grpc::GenericStub> stub_;
  std::unique_ptr<grpc::CompletionQueue> cq_;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call_;
  bool finished_ = false;
  grpc::Status status_;
};

}  // namespace agentcom::reflection

#endif  // AGENTCOM_COMMON_REFLECTION_GENERIC_CALL_H_
