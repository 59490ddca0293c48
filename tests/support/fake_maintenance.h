#ifndef AGENTCOM_TESTS_SUPPORT_FAKE_MAINTENANCE_H_
#define AGENTCOM_TESTS_SUPPORT_FAKE_MAINTENANCE_H_

#include <grpcpp/server.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agentcom/maintenance/v1/maintenance.grpc.pb.h"

namespace agentcom::testing {

// A real gRPC server on 127.0.0.1 implementing only ReportCorruption, which
// records every report. Thread-safe.
class FakeMaintenance final : public maintenance::v1::Maintenance::Service {
 public:
  // port 0 picks a free port.
  explicit FakeMaintenance(int port = 0);
  ~FakeMaintenance() override;

  std::string address() const;
  grpc::Status ReportCorruption(grpc::ServerContext* context,
                                const maintenance::v1::ReportCorruptionRequest* request,
                                maintenance::v1::ReportCorruptionResponse* response) override;

  std::vector<maintenance::v1::ReportCorruptionRequest> reports() const;
  // Waits until at least `n` reports arrived; false on timeout.
  bool WaitForReports(size_t n, absl::Duration timeout) const;
  // Authorization header values received.
  std::vector<std::string> authorizations() const;

 private:
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  mutable absl::Mutex mu_;
  std::vector<maintenance::v1::ReportCorruptionRequest> reports_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> authorizations_ ABSL_GUARDED_BY(mu_);
};

}  // namespace agentcom::testing

#endif  // AGENTCOM_TESTS_SUPPORT_FAKE_MAINTENANCE_H_
