#include "tests/support/fake_maintenance.h"

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include "absl/strings/str_cat.h"

namespace agentcom::testing {

FakeMaintenance::FakeMaintenance(int port) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort(absl::StrCat("127.0.0.1:", port),
                           grpc::InsecureServerCredentials(), &port_);
  builder.RegisterService(this);
  server_ = builder.BuildAndStart();
}

FakeMaintenance::~FakeMaintenance() { server_->Shutdown(); }

std::string FakeMaintenance::address() const { return absl::StrCat("127.0.0.1:", port_); }

grpc::Status FakeMaintenance::ReportCorruption(
    grpc::ServerContext* context, const maintenance::v1::ReportCorruptionRequest* request,
    maintenance::v1::ReportCorruptionResponse* response) {
  absl::MutexLock l(&mu_);
  reports_.push_back(*request);
  auto it = context->client_metadata().find("authorization");
  authorizations_.push_back(it == context->client_metadata().end()
                                ? ""
                                : std::string(it->second.data(), it->second.size()));
  response->set_restore_started(reports_.size() == 1);
  return grpc::Status::OK;
}

std::vector<maintenance::v1::ReportCorruptionRequest> FakeMaintenance::reports() const {
  absl::MutexLock l(&mu_);
  return reports_;
}

std::vector<std::string> FakeMaintenance::authorizations() const {
  absl::MutexLock l(&mu_);
  return authorizations_;
}

bool FakeMaintenance::WaitForReports(size_t n, absl::Duration timeout) const {
  absl::MutexLock l(&mu_);
  auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return reports_.size() >= n; };
  return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
}

}  // namespace agentcom::testing
