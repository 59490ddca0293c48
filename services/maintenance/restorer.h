#ifndef AGENTCOM_SERVICES_MAINTENANCE_RESTORER_H_
#define AGENTCOM_SERVICES_MAINTENANCE_RESTORER_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "agentcom/maintenance/v1/maintenance.pb.h"
#include "agentcom/maintenance/v1/state.pb.h"
#include "common/clock/clock.h"
#include "common/config/topology.h"
#include "services/maintenance/event_log.h"
#include "services/maintenance/maintenance_metrics.h"
#include "services/maintenance/remote_mirror.h"
#include "services/maintenance/restore_journal.h"
#include "services/maintenance/restore_request.h"
#include "services/maintenance/store_client.h"
#include "services/maintenance/supervisor.h"

namespace leveldb {
class Env;
}

namespace agentcom::maintenance {

// Restores one table from a backup (REQUIREMENTS R1-R4, R6) as a journaled
// state machine (v1::RestoreStep): find the newest backup that verifies,
// stop the table's store, move the table to quarantine, install the backup
// marked RESTORING, start the store, and have the store verify the table
// against the backup's manifest before it serves any agent
// (StoreAdmin.FinishRestore). A backup whose installed copy does not verify
// is set aside for the next older one; with none left the table restarts
// empty in degraded mode, verified the same way. Nothing is ever deleted:
// every table directory it replaces goes to <data_dir>/quarantine/. Writes
// made after the backup are replayed from the damaged table's write-ahead
// logs (storage::ReplayWalLogs); what could not be replayed is reported
// exactly, never silently.
//
// Errors that are not a backup's fault (supervisord unreachable, a store
// that will not start, an I/O error while installing) end the restore
// FAILED, with the table put back as it was where that is possible; callers
// retry.
//
// Not thread-safe per table: the caller (MaintenanceCore) holds the table's
// lock for the whole call. Different tables may be restored concurrently.
class Restorer {
 public:
  struct Options {
    const config::Topology* topology = nullptr;
    Clock* clock = nullptr;
    // Every file operation (quarantine, install, markers); not owned.
    leveldb::Env* env = nullptr;
    ProcessSupervisor* supervisor = nullptr;
    StoreClient* stores = nullptr;
    EventLog* events = nullptr;
    MaintenanceMetrics* metrics = nullptr;
    RestoreJournalStore* journal = nullptr;
    // The off-host copies; null when none are configured.
    RemoteMirror* remote = nullptr;
  };
  explicit Restorer(Options options) : options_(options) {}

  // Restores `request.table` from `request.backup_id` (which must exist), or
  // from the newest backup that verifies when it is empty, then replays onto
  // it every write the damaged table's write-ahead logs hold after the
  // backup (when the backup records where they start and the table is of the
  // same generation), so that no acknowledged write is lost. `resume` is the
  // journal of a restore of this table that a crash interrupted: if it had
  // already made the table serve, the restore is recorded as finished and
  // nothing is touched; otherwise it is redone. Blocks until the table
  // serves, or the restore failed. Emits recovery_started and
  // recovery_complete or recovery_failed, and the metrics.
  //
  // With `request.target_time` (point-in-time) only backups taken at or
  // before it are candidates, the replay stops after the last batch
  // committed at or before it, and when no candidate can be restored the
  // table is put back as it was (FAILED), never emptied.
  v1::RestoreResult Restore(const RestoreRequest& request);

  // Checks a manual request's target before anything is touched:
  // INVALID_ARGUMENT for a backup id together with a target time,
  // FAILED_PRECONDITION for a target time in the future or older than
  // every backup.
  absl::Status CheckTarget(const RestoreRequest& request) const;

  // A dry run of Restore: what it would bring back (backup, records, the
  // point restored, what it leaves out), built in a scratch directory from
  // the serving table's logs without touching the table or its store.
  // FAILED_PRECONDITION when no backup could be restored.
  absl::StatusOr<v1::RestoreResult> Preview(const RestoreRequest& request);

  // Whether the table's store answers and the table serves agents (OK or
  // DEGRADED).
  bool Serving(const std::string& table);

  // The backups to try, newest first (`backup_id` alone when given; with a
  // target time, those taken at or before it). Backups that do not pass
  // a listing check are added to `rejected` with why.
  std::vector<std::pair<std::string, common::v1::BackupManifest>> Candidates(
      const RestoreRequest& request, std::vector<std::string>* rejected) const;

 private:
  class Run;
  // When the local backup directory has no backup of `table` and a remote
  // destination is configured, fetches the table's backups and shipped logs
  // from there (RemoteMirror::Fetch). Returns the destination when it
  // fetched a backup, else "".
  std::string FetchIfNoLocalBackups(const std::string& table) const;

  const Options options_;
};

}  // namespace agentcom::maintenance

#endif  // AGENTCOM_SERVICES_MAINTENANCE_RESTORER_H_
