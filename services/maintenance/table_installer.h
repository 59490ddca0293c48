#ifndef AGENTCOM_SERVICES_MAINTENANCE_TABLE_INSTALLER_H_
#define AGENTCOM_SERVICES_MAINTENANCE_TABLE_INSTALLER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock/clock.h"
#include "common/config/topology.h"
#include "common/storage/table.h"

namespace leveldb {
class Env;
}

namespace agentcom::maintenance {

// Builds the directory a restore installs (REQUIREMENTS R2, issue 14): the
// backup's records in <data_dir>/.restore-<table>, then every write the
// damaged table's write-ahead logs hold after the backup, replayed; marks it
// RESTORING (the store serves it only after FinishRestore) and moves it to
// <data_dir>/<table>. Not thread-safe per table: the Restorer calls it with
// the table's lock held.
class TableInstaller {
 public:
  struct Options {
    const config::Topology* topology = nullptr;
    Clock* clock = nullptr;
    // Every file operation; not owned.
    leveldb::Env* env = nullptr;
  };
  struct Installed {
    // What the installed table holds: FinishRestore's expectation.
    storage::VerifyResult expected;
    uint64_t replayed_operations = 0;
    uint64_t lost_operations = 0;
    // What kept the replay from being complete, one line each.
    std::vector<std::string> problems;
    double replay_seconds = 0;
    // Acknowledged writes may be missing (a damaged or missing log, another
    // history, an empty table): the table is told to issue sequence numbers
    // above every one it issued before (kLossyRestoreMarkerFile).
    bool may_have_lost = false;
    // Installed without a backup from the damaged table's logs, which held
    // its whole history (it was younger than its first usable backup).
    bool from_logs = false;
  };

  explicit TableInstaller(Options options) : options_(options) {}

  // Installs `table` from the backup at `backup_path` (empty: an empty
  // table marked degraded, R4), replaying the logs of `damaged_dir` (the
  // table the restore moved to quarantine; empty when there was none) when
  // it is of the backup's generation. `records_at_corruption` (when known)
  // is compared with the result and a difference reported as a problem.
  // DATA_LOSS when the backup does not read back or the result does not
  // verify; UNAVAILABLE / RESOURCE_EXHAUSTED for I/O errors (the staging
  // directory may remain; RemoveStaging removes it).
  absl::StatusOr<Installed> Install(const std::string& table, const std::string& backup_path,
                                    const std::string& damaged_dir,
                                    std::optional<uint64_t> records_at_corruption);
  // Removes a staging directory an interrupted or failed install left.
  absl::Status RemoveStaging(const std::string& table);

 private:
  std::string StagingDir(const std::string& table) const;
  std::string TableDir(const std::string& table) const;
  // Replays onto the staging directory the writes `damaged_dir` holds after
  // the backup described by `manifest`.
  absl::Status Replay(const std::string& table, const common::v1::BackupManifest& manifest,
                      const std::string& damaged_dir, Installed* installed);
  // With no backup: replays onto an empty staging table every log of the
  // damaged table (its own and the shipped copies) when they go back to its
  // first write; false (nothing done) when they do not.
  absl::StatusOr<bool> ReplayWholeHistory(const std::string& table, const std::string& damaged_dir,
                                          Installed* installed);
  // Count and content hash of the table in the staging directory.
  absl::StatusOr<storage::VerifyResult> VerifyStaging(const std::string& table);

  const Options options_;
};

}  // namespace agentcom::maintenance

#endif  // AGENTCOM_SERVICES_MAINTENANCE_TABLE_INSTALLER_H_
