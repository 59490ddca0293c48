#ifndef AGENTCOM_SERVICES_MAINTENANCE_TABLE_INSTALLER_H_
#define AGENTCOM_SERVICES_MAINTENANCE_TABLE_INSTALLER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock/clock.h"
#include "common/config/topology.h"
#include "common/storage/table.h"
#include "common/storage/wal_replay.h"

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
    // What the installed table must hold: FinishRestore's expectation.
    // Install leaves the count of a backup with writes replayed onto it to
    // the store's traversal; Preview counts every record.
    storage::RestoreExpectation expected;
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
    // The last batch replayed: its commit time (InfinitePast when none
    // replayed had one) and sequence number (0: none replayed).
    absl::Time restored_to_time = absl::InfinitePast();
    uint64_t restored_to_sequence = 0;
    // Point-in-time: batches committed after the target, left out.
    uint64_t left_out_batches = 0;
    uint64_t left_out_operations = 0;
  };

  explicit TableInstaller(Options options) : options_(options) {}

  // Installs `table` from the backup at `backup_path` (empty: an empty
  // table marked degraded, R4), replaying the logs of `damaged_dir` (the
  // table the restore moved to quarantine; empty when there was none) when
  // it is of the backup's generation.
  // DATA_LOSS when the backup does not read back or the result does not
  // verify; UNAVAILABLE / RESOURCE_EXHAUSTED for I/O errors (the staging
  // directory may remain; RemoveStaging removes it).
  // With `until` (a point-in-time restore) the replay stops after the last
  // batch committed at or before it; the batches after it are left out, and
  // the table is told to issue sequence numbers above every one issued
  // before (they may have been handed out for the writes left out).
  absl::StatusOr<Installed> Install(const std::string& table, const std::string& backup_path,
                                    const std::string& damaged_dir,
                                    std::optional<absl::Time> until = std::nullopt);
  // A dry run of Install: builds the same table from the backup and the logs
  // of `live_dir` (the serving table's directory, only read) in a scratch
  // directory (<data_dir>/.preview-<table>), verifies it and removes it
  // again. Nothing of the table is touched.
  absl::StatusOr<Installed> Preview(const std::string& table, const std::string& backup_path,
                                    const std::string& live_dir, std::optional<absl::Time> until);
  // Removes a staging directory an interrupted or failed install left.
  absl::Status RemoveStaging(const std::string& table);

 private:
  std::string StagingDir(const std::string& table) const;
  std::string PreviewDir(const std::string& table) const;
  std::string TableDir(const std::string& table) const;
  // Builds the table in `staging` (which must not exist): the backup (or,
  // without one, the whole history from the logs, or an empty table) plus
  // the writes of `source_dir`'s logs after it, up to `until`. With
  // `read_back` every record replayed onto a backup is read back and counted
  // (Installed::expected); without it, that is left to FinishRestore.
  absl::StatusOr<Installed> Build(const std::string& table, const std::string& staging,
                                  const std::string& backup_path, const std::string& source_dir,
                                  std::optional<absl::Time> until, bool read_back);
  // Replays onto `staging` the writes `source_dir` holds after the backup
  // described by `manifest`.
  absl::Status Replay(const std::string& table, const std::string& staging,
                      const common::v1::BackupManifest& manifest, const std::string& source_dir,
                      std::optional<absl::Time> until, bool read_back, Installed* installed);
  // With no backup: replays onto an empty staging table every log of the
  // damaged table (its own and the shipped copies) when they go back to its
  // first write; false (nothing done) when they do not.
  absl::StatusOr<bool> ReplayWholeHistory(const std::string& table, const std::string& staging,
                                          const std::string& source_dir,
                                          std::optional<absl::Time> until, Installed* installed);
  // The newest quarantined directory of `table` of history `generation`
  // (what a restore replaced), or "".
  std::string QuarantinedHistory(const std::string& table, const std::string& generation) const;
  // Records a replay's report in `installed`.
  static void Account(const storage::ReplayReport& report, Installed* installed);

  const Options options_;
};

}  // namespace agentcom::maintenance

#endif  // AGENTCOM_SERVICES_MAINTENANCE_TABLE_INSTALLER_H_
