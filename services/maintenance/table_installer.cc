#include "services/maintenance/table_installer.h"

#include <leveldb/db.h>
#include <leveldb/env.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/files/files.h"
#include "common/logging/log.h"
#include "common/storage/backup.h"
#include "common/storage/wal.h"
#include "common/storage/wal_archive.h"
#include "common/storage/wal_replay.h"
#include "common/storage/wal_shipper.h"

namespace agentcom::maintenance {

std::string TableInstaller::StagingDir(const std::string& table) const {
  return absl::StrCat(options_.topology->data_dir(), "/.restore-", table);
}

std::string TableInstaller::TableDir(const std::string& table) const {
  return absl::StrCat(options_.topology->data_dir(), "/", table);
}

absl::Status TableInstaller::RemoveStaging(const std::string& table) {
  return files::RemoveTree(options_.env, StagingDir(table));
}

absl::StatusOr<TableInstaller::Installed> TableInstaller::Install(
    const std::string& table, const std::string& backup_path, const std::string& damaged_dir,
    std::optional<uint64_t> records_at_corruption) {
  const std::string staging = StagingDir(table);
  Installed installed;
  if (auto s = RemoveStaging(table); !s.ok()) return s;
  if (backup_path.empty()) {
    if (auto s = files::CreateDirs(options_.env, staging); !s.ok()) return s;
    absl::StatusOr<bool> whole = ReplayWholeHistory(table, damaged_dir, &installed);
    if (!whole.ok() && !absl::IsDataLoss(whole.status())) return whole.status();
    if (!whole.ok()) {  // what the logs rebuilt does not verify: restart empty
      installed = Installed{.problems = {absl::StrCat("rebuilding the table from its logs failed: ",
                                                      whole.status().message())}};
      if (auto s = RemoveStaging(table); !s.ok()) return s;
      if (auto s = files::CreateDirs(options_.env, staging); !s.ok()) return s;
    }
  }
  if (backup_path.empty() && !installed.from_logs) {
    if (auto s = files::WriteFileAtomically(
            options_.env, absl::StrCat(staging, "/", storage::kDegradedMarkerFile),
            absl::StrCat("restored empty at ", absl::FormatTime(options_.clock->Now()), "\n"));
        !s.ok()) {
      return s;
    }
    installed.expected = {0, ""};
    installed.may_have_lost = true;
  } else if (!backup_path.empty()) {
    absl::StatusOr<common::v1::BackupManifest> manifest =
        // Files checked; the records are read back by FinishRestore's
        // traversal of the table the store opens (or VerifyStaging's).
        storage::RestoreBackup(backup_path, staging, options_.env, storage::RestoreCheck::kFiles,
                               damaged_dir);
    if (!manifest.ok()) return manifest.status();
    installed.expected = {manifest->record_count(), manifest->content_hash()};
    if (auto s = Replay(table, *manifest, damaged_dir, &installed); !s.ok()) return s;
    if (installed.replayed_operations > 0) {
      absl::StatusOr<storage::VerifyResult> replayed = VerifyStaging(table);
      if (!replayed.ok()) return replayed.status();
      installed.expected = *replayed;
    }
    if (records_at_corruption.has_value() &&
        *records_at_corruption != installed.expected.record_count) {
      installed.problems.push_back(
          absl::StrCat("the store held ", *records_at_corruption,
                       " records when it found the corruption; the restored table holds ",
                       installed.expected.record_count));
    }
  }
  if (installed.may_have_lost || installed.lost_operations > 0) {
    if (auto s = files::WriteFileAtomically(
            options_.env, absl::StrCat(staging, "/", storage::kLossyRestoreMarkerFile),
            absl::StrCat(absl::StrJoin(installed.problems, "\n"), "\n"));
        !s.ok()) {
      return s;
    }
  }
  // The store opens the table RESTORING and serves no agent until
  // FinishRestore has verified it (R3).
  if (auto s = files::WriteFileAtomically(options_.env,
                                          absl::StrCat(staging, "/", storage::kRestoringMarkerFile),
                                          "installed by maintenance; serving once verified\n");
      !s.ok()) {
    return s;
  }
  if (auto s = files::RenameDurably(options_.env, staging, TableDir(table)); !s.ok()) return s;
  return installed;
}

absl::Status TableInstaller::Replay(const std::string& table,
                                    const common::v1::BackupManifest& manifest,
                                    const std::string& damaged_dir, Installed* installed) {
  if (manifest.generation().empty()) {
    installed->problems.push_back(absl::StrCat(
        "backup ", manifest.backup_id(),
        " predates the write-ahead log archive: writes made after it cannot be replayed"));
    installed->may_have_lost = true;
    return absl::OkStatus();
  }
  // The logs of the backup's history: the damaged table's own (when it is
  // of that history) and the copies shipped to the backup directory, which
  // are all there is when the table's directory was lost.
  std::vector<storage::WalLog> local;
  if (!damaged_dir.empty() && options_.env->FileExists(damaged_dir)) {
    absl::StatusOr<std::string> generation =
        files::ReadFile(options_.env, absl::StrCat(damaged_dir, "/", storage::kGenerationFile));
    if (generation.ok() && *generation == manifest.generation()) {
      local = storage::ListWalLogs(options_.env, damaged_dir, manifest.first_log_number());
    } else {
      installed->problems.push_back(absl::StrCat(
          "the table's directory holds another history than backup ", manifest.backup_id(),
          " (restored since, or re-created after its directory was lost): only the logs "
          "shipped for the backup's history can be replayed"));
      installed->may_have_lost = true;
    }
  }
  const std::vector<storage::WalLog> shipped = storage::ListWalLogs(
      options_.env,
      storage::ShippedWalDir(options_.topology->backup_dir(), table, manifest.generation()),
      manifest.first_log_number());
  if (local.empty() && shipped.empty() && damaged_dir.empty()) {
    // No table (its directory lost, or never created) and nothing shipped:
    // whatever was written after the backup is gone.
    installed->may_have_lost = true;
    return absl::OkStatus();
  }
  const absl::Time start = options_.clock->Now();
  const std::vector<storage::WalLog> logs =
      storage::ChooseWalLogs(options_.env, local, shipped, &installed->problems);
  if (manifest.first_log_number() != 0 &&
      (logs.empty() || logs.front().number != manifest.first_log_number())) {
    // Kept until no backup needs it, so missing means lost; the sequence
    // numbers cannot tell how many writes it held.
    installed->problems.push_back(absl::StrCat(
        "log ", manifest.first_log_number(), ", the first one backup ", manifest.backup_id(),
        " needs, is missing: the writes it held are lost (how many is not known)"));
    installed->may_have_lost = true;
  }
  absl::StatusOr<storage::ReplayReport> report =
      storage::ReplayWalLogs(options_.env, StagingDir(table), logs);
  installed->replay_seconds = absl::ToDoubleSeconds(options_.clock->Now() - start);
  if (!report.ok()) return report.status();
  installed->replayed_operations = report->operations;
  installed->lost_operations = report->lost_operations;
  // Damage at the end of the last log hides how much it held.
  if (report->lost_operations > 0 || !report->problems.empty()) installed->may_have_lost = true;
  for (const std::string& p : report->problems) installed->problems.push_back(p);
  log::Info("write-ahead logs replayed onto the backup",
            {{"table", table},
             {"backup_id", manifest.backup_id()},
             {"logs", report->logs},
             {"shipped_logs", static_cast<uint64_t>(shipped.size())},
             {"operations", report->operations},
             {"lost_operations", report->lost_operations}});
  return absl::OkStatus();
}

absl::StatusOr<bool> TableInstaller::ReplayWholeHistory(const std::string& table,
                                                        const std::string& damaged_dir,
                                                        Installed* installed) {
  if (damaged_dir.empty() || !options_.env->FileExists(damaged_dir)) return false;
  absl::StatusOr<std::string> generation =
      files::ReadFile(options_.env, absl::StrCat(damaged_dir, "/", storage::kGenerationFile));
  if (!generation.ok()) return false;
  std::vector<std::string> notes;
  const std::vector<storage::WalLog> logs = storage::ChooseWalLogs(
      options_.env, storage::ListWalLogs(options_.env, damaged_dir, 0),
      storage::ListWalLogs(
          options_.env, storage::ShippedWalDir(options_.topology->backup_dir(), table, *generation),
          0),
      &notes);
  if (logs.empty()) return false;
  // LevelDB numbers the first write of a table 1: a first log that starts
  // there holds the table from its creation.
  absl::StatusOr<storage::WalFile> first = storage::ReadWalFile(options_.env, logs.front().path);
  if (!first.ok() || first->batches.empty() || first->batches.front().sequence != 1) {
    installed->problems.push_back(
        "the table's logs do not go back to its creation (older ones were removed once a "
        "backup held them), so they cannot rebuild it without a backup");
    return false;
  }
  const std::string staging = StagingDir(table);
  {
    leveldb::Options o;
    o.env = options_.env;
    o.create_if_missing = true;
    o.compression = leveldb::kNoCompression;
    leveldb::DB* raw = nullptr;
    if (leveldb::Status s = leveldb::DB::Open(o, staging, &raw); !s.ok()) {
      return files::FromLevelDb(s, staging);
    }
    delete raw;
  }
  const absl::Time start = options_.clock->Now();
  absl::StatusOr<storage::ReplayReport> report =
      storage::ReplayWalLogs(options_.env, staging, logs);
  installed->replay_seconds = absl::ToDoubleSeconds(options_.clock->Now() - start);
  if (!report.ok()) return report.status();
  installed->replayed_operations = report->operations;
  installed->lost_operations = report->lost_operations;
  for (std::string& n : notes) installed->problems.push_back(std::move(n));
  for (const std::string& p : report->problems) installed->problems.push_back(p);
  if (report->lost_operations > 0 || !report->problems.empty()) installed->may_have_lost = true;
  absl::StatusOr<storage::VerifyResult> verified = VerifyStaging(table);
  if (!verified.ok()) return verified.status();
  installed->expected = *verified;
  installed->from_logs = true;
  log::Warn(
      "no usable backup: the table was rebuilt from its write-ahead logs, which hold its "
      "whole history",
      {{"table", table},
       {"logs", report->logs},
       {"operations", report->operations},
       {"lost_operations", report->lost_operations}});
  return true;
}

absl::StatusOr<storage::VerifyResult> TableInstaller::VerifyStaging(const std::string& table) {
  storage::TableOptions options;
  options.name = table;
  options.dir = StagingDir(table);
  for (const auto& t : (*config::FindStoreOfTable(*options_.topology, table))->tables()) {
    if (t.name() == table) options.storage = config::EffectiveStorage(*options_.topology, t);
  }
  options.env = options_.env;
  absl::StatusOr<std::unique_ptr<storage::Table>> opened = storage::OpenTable(options);
  if (!opened.ok()) return opened.status();
  absl::StatusOr<storage::VerifyResult> verified = (*opened)->Verify();
  if (!verified.ok()) {
    return absl::DataLossError(absl::StrCat("the backup with the replayed writes does not verify: ",
                                            verified.status().message()));
  }
  return verified;
}

}  // namespace agentcom::maintenance
