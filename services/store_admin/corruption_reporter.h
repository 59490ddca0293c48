#ifndef AGENTCOM_SERVICES_STORE_ADMIN_CORRUPTION_REPORTER_H_
#define AGENTCOM_SERVICES_STORE_ADMIN_CORRUPTION_REPORTER_H_

#include <deque>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agentcom/maintenance/v1/maintenance.grpc.pb.h"
#include "common/storage/table.h"

namespace agentcom::store_admin {

// Sends ReportCorruption to the maintenance service from a background
// thread, retrying with exponential backoff while maintenance is unreachable
// or refuses, so the request path that found the corruption never waits.
// Reports are delivered in order, each until maintenance returns OK.
// Thread-safe.
class MaintenanceReporter final : public storage::CorruptionListener {
 public:
  struct Options {
    std::string store;
    // Sent as "authorization: Bearer <token>"; never logged.
    std::string admin_token;
    absl::Duration rpc_timeout = absl::Seconds(5);
    absl::Duration initial_backoff = absl::Milliseconds(100);
    absl::Duration max_backoff = absl::Seconds(30);
  };

  MaintenanceReporter(Options options,
                      std::unique_ptr<maintenance::v1::Maintenance::StubInterface> stub);
  // Stops the thread; reports not yet delivered are logged and dropped (the
  // table stays CORRUPTED, and maintenance finds it at its next start-up
  // scan).
  ~MaintenanceReporter() override;

  // Queues a report and returns at once.
  void OnCorruption(const std::string& table, const std::string& reason,
                    std::optional<uint64_t> records) override;

  // Reports delivered so far.
  uint64_t delivered() const;

 private:
  struct Report {
    std::string table;
    std::string reason;
    std::optional<uint64_t> records;
    absl::Time detected_at;
  };
  void Run();

  const Options options_;
  std::unique_ptr<maintenance::v1::Maintenance::StubInterface> stub_;
  mutable absl::Mutex mu_;
  std::deque<Report> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t delivered_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

}  // namespace agentcom::store_admin

#endif  // AGENTCOM_SERVICES_STORE_ADMIN_CORRUPTION_REPORTER_H_
