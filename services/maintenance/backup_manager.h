#ifndef AGENTCOM_SERVICES_MAINTENANCE_BACKUP_MANAGER_H_
#define AGENTCOM_SERVICES_MAINTENANCE_BACKUP_MANAGER_H_

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "agentcom/maintenance/v1/maintenance.pb.h"
#include "agentcom/maintenance/v1/state.pb.h"
#include "common/clock/clock.h"
#include "common/config/topology.h"
#include "common/storage/file_backup.h"
#include "services/maintenance/event_log.h"
#include "services/maintenance/maintenance_metrics.h"
#include "services/maintenance/remote_mirror.h"
#include "services/maintenance/store_client.h"

namespace leveldb {
class Env;
}

namespace agentcom::maintenance {

// Backups (REQUIREMENTS B1-B6): has a table's store write a snapshot into
// the backup directory, verifies it read-only, applies retention, lists and
// verifies backups for operators, and remembers each table's last result.
// It does not lock tables: the caller (MaintenanceCore) holds the table's
// lock around BackUp. Backups are named by id and resolved inside the
// configured backup directory; no call takes a path. Thread-safe.
class BackupManager {
 public:
  struct Options {
    const config::Topology* topology = nullptr;
    Clock* clock = nullptr;
    // File operations (cleaning partial backups, retention); not owned.
    leveldb::Env* env = nullptr;
    StoreClient* stores = nullptr;
    EventLog* events = nullptr;
    MaintenanceMetrics* metrics = nullptr;
    // The off-host copies, for List; null when none are configured.
    const RemoteMirror* remote = nullptr;
  };
  explicit BackupManager(Options options) : options_(options) {}

  // An empty run started now.
  v1::BackupRun NewRun(v1::Trigger trigger) const;
  // One backup of `table`: removes stale partial backups first, snapshots
  // through the store, verifies the result (a backup that fails is removed,
  // B6: a store that is down is reported as such), then applies retention.
  // Never fails as a call: the result says what happened, and a failure is
  // also a backup_failed event and metric. Blocks for the snapshot.
  v1::BackupResult BackUp(const std::string& table);
  // Counts the run's results and emits backup_complete. `table` names the
  // one table of a single-table run (its event only when it succeeded); ""
  // for a run over every table (B5).
  v1::BackupRun FinishRun(v1::BackupRun run, const std::string& table);

  // Backups of `tables`, each table's newest first (manifests read, not
  // verified), local and remote ones (as the remote mirror's last round saw
  // the destination), and each table's remote status. UNAVAILABLE when a
  // backup directory cannot be listed.
  absl::StatusOr<v1::ListBackupsResponse> List(const std::vector<std::string>& tables) const;
  // Read-only full verification of one backup. INVALID_ARGUMENT when
  // `backup_id` is not an id, NOT_FOUND when there is no such backup; a
  // damaged backup is an OK call whose response says why (ok=false).
  absl::StatusOr<v1::VerifyBackupResponse> Verify(const std::string& table,
                                                  const std::string& backup_id) const;

  // Scrubs the table's backup pool (storage::ScrubPool against the live
  // table's directory): metrics, a `scrub_complete` event, and an error
  // event `scrub_damage` naming what was damaged and what could not be
  // repaired. Returns the report; the caller backs the table up at once when
  // a backup became unusable.
  storage::ScrubReport Scrub(const std::string& table);

  // "ok", or the error of the table's last backup attempt since start-up;
  // nullopt when none was made.
  std::optional<std::string> LastResult(const std::string& table) const;

 private:
  void RemoveStalePartials(const std::string& table);
  // B3: keeps the newest `backup_retention` backups that verify and any
  // unverified ones newer than them; deletes the rest. Returns the ids
  // deleted.
  std::vector<std::string> ApplyRetention(const std::string& table);
  bool IsVerified(const std::string& table, const std::string& id);
  // Deletes the write-ahead logs no retained backup needs: in the live
  // table's archive and among the shipped copies of each history, those
  // older than the oldest log a retained backup of that history starts
  // from (all kept while no such backup exists); and the shipped copies of
  // a history that is not the table's and that no retained backup is of.
  // Returns how many logs were deleted.
  int PruneWalArchive(const std::string& table);

  const Options options_;
  mutable absl::Mutex mu_;
  std::map<std::string, std::set<std::string>> verified_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> last_result_ ABSL_GUARDED_BY(mu_);
};

// Bytes of a backup's files.
uint64_t BackupSize(const common::v1::BackupManifest& manifest);

// OK when `backup_id` names an existing backup of `table` under
// `backup_root`: INVALID_ARGUMENT when it is not a backup id (never a path),
// NOT_FOUND when there is no such backup.
absl::Status CheckBackupExists(leveldb::Env* env, const std::string& backup_root,
                               const std::string& table, const std::string& backup_id);

}  // namespace agentcom::maintenance

#endif  // AGENTCOM_SERVICES_MAINTENANCE_BACKUP_MANAGER_H_
