#ifndef AGENTCOM_SERVICES_MAINTENANCE_MAINTENANCE_H_
#define AGENTCOM_SERVICES_MAINTENANCE_MAINTENANCE_H_

#include <prometheus/registry.h>

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "agentcom/maintenance/v1/maintenance.pb.h"
#include "agentcom/maintenance/v1/state.pb.h"
#include "common/clock/clock.h"
#include "common/config/topology.h"
#include "services/maintenance/backup_manager.h"
#include "services/maintenance/compaction_history.h"
#include "services/maintenance/compactor.h"
#include "services/maintenance/event_log.h"
#include "services/maintenance/health.h"
#include "services/maintenance/maintenance_metrics.h"
#include "services/maintenance/remote_mirror.h"
#include "services/maintenance/restore_journal.h"
#include "services/maintenance/restore_queue.h"
#include "services/maintenance/restorer.h"
#include "services/maintenance/store_client.h"
#include "services/maintenance/supervisor.h"

namespace leveldb {
class Env;
}

namespace agentcom::maintenance {

// The maintenance core: the one place that owns the per-table locks and
// wires the parts that do the work, each in a room of its own:
//   BackupManager   backups, retention, listing, verification (B1-B6)
//   Compactor       compaction and its history (C1-C7)
//   Restorer        the journaled restore state machine (R1-R4, R6)
//   RestoreQueue    automatic restores, joining, retries (R5)
//   HealthReporter  every table's health (H1)
//   RemoteMirror    copies of the backup directory off this host
//   MaintenanceMetrics  their Prometheus series (M1)
// Knows nothing of gRPC's server side; reaches stores through StoreClient
// and processes through ProcessSupervisor, reads time from Clock and touches
// files through a leveldb::Env.
//
// Thread-safe. A table is never backed up, compacted and restored at the
// same time (one lock per table). Compact-all runs do not overlap each
// other, nor do backup-all runs. Unknown tables are NOT_FOUND naming them.
class MaintenanceCore {
 public:
  struct Options {
    config::Topology topology;
    Clock* clock = nullptr;
    // nullptr: leveldb::Env::Default(). Not owned.
    leveldb::Env* env = nullptr;
    ProcessSupervisor* supervisor = nullptr;
    StoreClient* stores = nullptr;
    EventLog* events = nullptr;
    // May be null (no metrics are exported).
    prometheus::Registry* metrics = nullptr;
    // Where copies of the backup directory go off this host
    // (maintenance.remote_backup); null when none. Not owned.
    remote::Destination* remote = nullptr;
  };

  explicit MaintenanceCore(Options options);
  // Stops the restore worker (after the restore it is running).
  ~MaintenanceCore();

  // Loads the compaction history, starts the restore worker, resumes the
  // restores a crash interrupted (their journals), and queues a restore for
  // every table a store reports corrupted, or restoring with no restore in
  // progress. Call once.
  absl::Status Start();

  v1::BackupRun BackupAll(v1::Trigger trigger);
  absl::StatusOr<v1::BackupRun> BackupTable(const std::string& table, v1::Trigger trigger);
  // Every table's backups when `table` is empty.
  absl::StatusOr<v1::ListBackupsResponse> ListBackups(const std::string& table);
  absl::StatusOr<v1::VerifyBackupResponse> VerifyBackup(const std::string& table,
                                                        const std::string& backup_id);

  // Scrubs every table's backup pool (the daily scheduled job); a table one
  // of whose backups became unusable is backed up at once.
  void ScrubAll();

  v1::CompactionRun CompactAll(bool force, v1::Trigger trigger);
  // Always runs (force); a manual run.
  absl::StatusOr<v1::CompactionRun> CompactTable(const std::string& table);
  v1::CompactionHistory CompactionHistory() const;

  // Queues an automatic restore unless one is queued or running for the
  // table. Returns whether this call queued it. `records`: what the table
  // held when its store found the corruption, when the store knew it.
  absl::StatusOr<bool> ReportCorruption(const std::string& table, const std::string& reason,
                                        std::optional<uint64_t> records = std::nullopt);
  // Restores now (see RestoreQueue::RunNow for joining); see RestoreTable in
  // the proto. INVALID_ARGUMENT for a malformed backup id or a backup id
  // together with a target time, NOT_FOUND for a backup that does not
  // exist, FAILED_PRECONDITION for a target time in the future or older
  // than every backup (nothing is touched then).
  absl::StatusOr<v1::RestoreResult> RestoreTable(const std::string& table,
                                                 const std::string& backup_id, v1::Trigger trigger,
                                                 const RestoreTarget& target = {});
  // True once no restore is queued or running, false after `timeout` of
  // real time (tests and orderly shutdown).
  bool WaitRestoresIdle(absl::Duration timeout);
  // True once a failed automatic restore waits for its retry (tests advance
  // the clock after it); false after `timeout` of real time.
  bool WaitRestoreRetryPending(absl::Duration timeout) { return queue_.WaitRetryPending(timeout); }

  v1::GetHealthResponse GetHealth();

  // One upload round of every table to the remote destination now (the
  // mirror also runs them on its interval). FAILED_PRECONDITION when no
  // remote destination is configured; otherwise the first error.
  absl::Status SyncRemote();

 private:
  absl::Status CheckTable(const std::string& table) const;
  absl::Mutex& TableLock(const std::string& table) const;
  // Runs the Restorer with the table's lock held; after a restore that made
  // the table serve, takes a backup of it at once (the base the next
  // restore replays the table's logs onto).
  v1::RestoreResult RestoreLocked(const RestoreRequest& request);
  // The table is corrupted or restoring, or its store cannot be asked.
  bool NeedsRestore(const std::string& table);
  // The remote mirror found backups of `table` at the destination and none
  // locally: restores the table when it is empty (see RemoteMirror).
  void OnlyRemoteBackups(const std::string& table);
  std::vector<std::string> Tables() const;

  const Options options_;
  leveldb::Env* const env_;
  std::map<std::string, std::unique_ptr<absl::Mutex>> table_locks_;
  absl::Mutex compact_run_mu_;
  absl::Mutex backup_run_mu_;

  MaintenanceMetrics metrics_;
  // Null without a remote destination.
  std::unique_ptr<RemoteMirror> mirror_;
  BackupManager backups_;
  CompactionHistoryStore history_;
  Compactor compactor_;
  RestoreJournalStore journal_;
  Restorer restorer_;
  HealthReporter health_;
  // Last: its worker calls into the parts above, so it stops first.
  RestoreQueue queue_;
};

}  // namespace agentcom::maintenance

#endif  // AGENTCOM_SERVICES_MAINTENANCE_MAINTENANCE_H_
