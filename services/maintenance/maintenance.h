#ifndef AGENTCOM_SERVICES_MAINTENANCE_MAINTENANCE_H_
#define AGENTCOM_SERVICES_MAINTENANCE_MAINTENANCE_H_

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "agentcom/maintenance/v1/maintenance.pb.h"
#include "common/clock/clock.h"
#include "common/config/topology.h"
#include "services/maintenance/event_log.h"
#include "services/maintenance/store_client.h"
#include "services/maintenance/supervisor.h"

namespace agentcom::maintenance {

// The maintenance core: backups with retention, compaction with history,
// restore with quarantine, journal and degraded mode, health. Knows nothing
// of gRPC's server side; reaches stores through StoreClient and processes
// through ProcessSupervisor, reads time from Clock.
//
// Thread-safe. A table is never backed up, compacted and restored at the same
// time (one lock per table). Compact-all runs do not overlap each other, nor
// do backup-all runs. Automatic restores run one at a time on a worker
// thread; reports for a table already queued or being restored join it.
class MaintenanceCore {
 public:
  struct Options {
    config::Topology topology;
    Clock* clock = nullptr;
    ProcessSupervisor* supervisor = nullptr;
    StoreClient* stores = nullptr;
    EventLog* events = nullptr;
    // May be null (no metrics).
    prometheus::Registry* metrics = nullptr;
  };

  explicit MaintenanceCore(Options options);
  ~MaintenanceCore();

  // Loads compaction history, starts the restore worker, resumes restores a
  // crash interrupted (their journals), and queues a restore for every table
  // a store reports corrupted. Call once.
  absl::Status Start();

  v1::BackupRun BackupAll(const std::string& trigger);
  absl::StatusOr<v1::BackupRun> BackupTable(const std::string& table, const std::string& trigger);
  absl::StatusOr<v1::ListBackupsResponse> ListBackups(const std::string& table);
  absl::StatusOr<v1::VerifyBackupResponse> VerifyBackup(const std::string& table,
                                                        const std::string& backup_id);

  v1::CompactionRun CompactAll(bool force, const std::string& trigger);
  absl::StatusOr<v1::CompactionRun> CompactTable(const std::string& table);
  v1::CompactionHistory CompactionHistory() const;

  // Queues an automatic restore unless one is queued or running for the
  // table. Returns whether this call queued it.
  absl::StatusOr<bool> ReportCorruption(const std::string& table, const std::string& reason);
  // Restores now (waiting for the table's lock); see RestoreTable in the proto.
  absl::StatusOr<v1::RestoreResult> RestoreTable(const std::string& table,
                                                 const std::string& backup_id,
                                                 const std::string& trigger);
  // True once no automatic restore is queued or running (for tests and
  // orderly shutdown), false on timeout.
  bool WaitRestoresIdle(absl::Duration timeout);

  v1::GetHealthResponse GetHealth();

 private:
  struct Metrics;

  absl::Status CheckTable(const std::string& table) const;
  const config::StoreSpec& StoreOf(const std::string& table) const;
  absl::Mutex& TableLock(const std::string& table) const;
  std::string TableDir(const std::string& table) const;

  v1::BackupResult BackupLocked(const std::string& table);
  std::vector<std::string> ApplyRetention(const std::string& table);
  bool IsVerified(const std::string& table, const std::string& id);
  v1::CompactionResult CompactLocked(const std::string& table, bool force);
  v1::CompactionRun FinishCompactionRun(v1::CompactionRun run, absl::Time start);
  // Runs one restore with the table's lock held. `resume` is the journal of
  // a restore that a crash interrupted.
  v1::RestoreResult RestoreLocked(const std::string& table, const std::string& backup_id,
                                  const std::string& trigger,
                                  const std::optional<v1::RestoreResult>& resume);
  absl::Status Quarantine(const std::string& table, std::string* moved_to);
  // Builds the table from a backup (`backup_path`; empty: an empty degraded
  // table) beside the data directory, marks it RESTORING and moves it into
  // place.
  absl::Status InstallRestoring(const std::string& table, const std::string& backup_path);
  // The table's store answers and the table serves agents (OK or DEGRADED).
  bool Serving(const std::string& table);
  // Starts `store` and waits until `table` answers SERVING; fails early when
  // the supervisor gives the process up (FATAL) or it is stopped again.
  absl::Status StartServing(const std::string& store, const std::string& table,
                            absl::Duration timeout);
  void WriteJournal(const std::string& table, const std::string& trigger,
                    const std::string& step, const std::string& backup_id,
                    const std::string& quarantine_path);
  void RemoveJournal(const std::string& table);
  void RestoreWorker();
  void FinishInFlight(const std::string& table, const v1::RestoreResult& result)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  std::unique_ptr<Metrics> metrics_;
  std::map<std::string, std::unique_ptr<absl::Mutex>> table_locks_;
  absl::Mutex compact_run_mu_;
  absl::Mutex backup_run_mu_;

  mutable absl::Mutex mu_;
  // A restore queued or running, which later requests for the table join.
  struct InFlight {
    bool done = false;
    v1::RestoreResult result;
  };
  std::map<std::string, std::shared_ptr<InFlight>> inflight_ ABSL_GUARDED_BY(mu_);
  // Completed restores per table; a queued automatic restore that a later
  // one overtook is not run again.
  std::map<std::string, uint64_t> generation_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, v1::RestoreResult> last_result_ ABSL_GUARDED_BY(mu_);
  // An automatic restore that failed (supervisord unreachable, a store that
  // would not start) is retried with backoff while the table stays corrupted.
  struct RestoreJob {
    std::string table;
    std::string trigger;
    uint64_t generation = 0;
    std::optional<v1::RestoreResult> resume;
    int attempt = 0;
    absl::Time not_before = absl::InfinitePast();
  };
  std::deque<RestoreJob> restore_queue_ ABSL_GUARDED_BY(mu_);
  bool restore_busy_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, std::set<std::string>> verified_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> last_backup_result_ ABSL_GUARDED_BY(mu_);
  v1::CompactionHistory history_ ABSL_GUARDED_BY(mu_);
  std::thread worker_;
};

}  // namespace agentcom::maintenance

#endif  // AGENTCOM_SERVICES_MAINTENANCE_MAINTENANCE_H_
