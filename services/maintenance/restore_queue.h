#ifndef AGENTCOM_SERVICES_MAINTENANCE_RESTORE_QUEUE_H_
#define AGENTCOM_SERVICES_MAINTENANCE_RESTORE_QUEUE_H_

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agentcom/maintenance/v1/maintenance.pb.h"
#include "agentcom/maintenance/v1/state.pb.h"
#include "common/clock/clock.h"
#include "services/maintenance/restore_request.h"

namespace agentcom::maintenance {

// Which restores run, and when (REQUIREMENTS R2, R5). Automatic restores
// (corruption reports, restores resumed from a journal) are queued and run
// one at a time on a worker thread; one that fails is retried with
// exponential backoff on the injected clock for as long as the table still
// needs it. At most one restore per table is queued or running: a report for
// a table that has one joins it, and so does an operator's restore that
// names no backup (running a second restore right after the first would
// throw away what agents wrote to the freshly restored table). An operator's
// restore of a named backup is an explicit choice and runs after it. A queued
// automatic restore that another restore overtook is dropped unless the
// table still needs one.
//
// The restore itself is a callback (MaintenanceCore takes the table's lock
// and runs the Restorer). Thread-safe.
class RestoreQueue {
 public:
  using RestoreFn = std::function<v1::RestoreResult(const RestoreRequest& request)>;
  struct Options {
    Clock* clock = nullptr;
    // Runs one restore and returns its result; called on the worker thread
    // or on RunNow's caller's thread.
    RestoreFn restore;
    // Whether the table still needs restoring (it is corrupted or restoring,
    // or its store cannot be asked). Asked before a retry, and before an
    // automatic restore that another restore overtook.
    std::function<bool(const std::string& table)> needs_restore;
    absl::Duration retry_base = absl::Seconds(5);
    absl::Duration retry_max = absl::Seconds(60);
  };

  explicit RestoreQueue(Options options);
  // Stops the worker after the restore it is running, if any. Queued
  // restores are dropped (a corrupted table is found again at start-up).
  ~RestoreQueue();

  // Starts the worker thread. Call once.
  void Start();
  // Queues a restore to run on the worker (corruption reports, resumed
  // journals) unless one is queued or running for the table. Returns whether
  // this call queued it.
  bool Enqueue(RestoreRequest request);
  // Runs a restore on the caller's thread and returns its result; or, when
  // it names no backup nor target time and a restore of the table is queued
  // or running,
  // waits for that one and returns its result. Blocks.
  v1::RestoreResult RunNow(const RestoreRequest& request);
  // A restore of the table is queued or running.
  bool InProgress(const std::string& table) const;
  // True once nothing is queued or running; false after `timeout` of real
  // time (a bound for tests and shutdown, whatever the injected clock does).
  bool WaitIdle(absl::Duration timeout);
  // True once nothing runs and every queued restore waits for a retry time
  // still to come (tests advance the clock after it); false after `timeout`
  // of real time.
  bool WaitRetryPending(absl::Duration timeout);

 private:
  struct InFlight {
    bool done = false;
    v1::RestoreResult result;
  };
  struct Job {
    RestoreRequest request;
    // Restores of the table completed when the job was queued.
    uint64_t generation = 0;
    int attempt = 0;
    absl::Time not_before = absl::InfinitePast();
  };

  void Work();
  bool HasReadyJob() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Records a finished restore: a successful one overtakes queued jobs; the
  // table's in-flight entry (if `in_flight`) is completed and removed.
  void Completed(const std::string& table, const v1::RestoreResult& result, bool in_flight)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Hands `result` to the requests that joined the table's restore.
  void FinishInFlight(const std::string& table, const v1::RestoreResult& result)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  mutable absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<InFlight>> in_flight_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, uint64_t> generation_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, v1::RestoreResult> last_result_ ABSL_GUARDED_BY(mu_);
  std::deque<Job> queue_ ABSL_GUARDED_BY(mu_);
  bool busy_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread worker_;
};

}  // namespace agentcom::maintenance

#endif  // AGENTCOM_SERVICES_MAINTENANCE_RESTORE_QUEUE_H_
