#include "services/maintenance/table_installer.h"

#include <leveldb/db.h>
#include <leveldb/env.h>

#include <algorithm>

#include "absl/strings/match.h"
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

namespace {

// What FinishRestore must find: what a replay read back, or (not read
// back) whatever its traversal counts.
storage::RestoreExpectation Expect(const std::optional<storage::VerifyResult>& read_back) {
  if (!read_back.has_value()) return {};
  return {read_back->record_count, read_back->content_hash};
}

}  // namespace

std::string TableInstaller::StagingDir(const std::string& table) const {
  return absl::StrCat(options_.topology->data_dir(), "/.restore-", table);
}

std::string TableInstaller::PreviewDir(const std::string& table) const {
  return absl::StrCat(options_.topology->data_dir(), "/.preview-", table);
}

std::string TableInstaller::TableDir(const std::string& table) const {
  return absl::StrCat(options_.topology->data_dir(), "/", table);
}

absl::Status TableInstaller::RemoveStaging(const std::string& table) {
  return files::RemoveTree(options_.env, StagingDir(table));
}

absl::StatusOr<TableInstaller::Installed> TableInstaller::Install(const std::string& table,
                                                                  const std::string& backup_path,
                                                                  const std::string& damaged_dir,
                                                                  std::optional<absl::Time> until) {
  const std::string staging = StagingDir(table);
  if (auto s = RemoveStaging(table); !s.ok()) return s;
  absl::StatusOr<Installed> built =
      Build(table, staging, backup_path, damaged_dir, until, /*read_back=*/false);
  if (!built.ok()) return built.status();
  Installed& installed = *built;
  if (installed.may_have_lost || installed.lost_operations > 0 || installed.left_out_batches > 0) {
    std::vector<std::string> why = installed.problems;
    if (installed.left_out_batches > 0) {
      why.push_back(absl::StrCat("point-in-time restore to ",
                                 absl::FormatTime(absl::RFC3339_full, *until, absl::UTCTimeZone()),
                                 ": ", installed.left_out_batches, " later batches left out"));
    }
    if (auto s = files::WriteFileAtomically(
            options_.env, absl::StrCat(staging, "/", storage::kLossyRestoreMarkerFile),
            absl::StrCat(absl::StrJoin(why, "\n"), "\n"));
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

absl::StatusOr<TableInstaller::Installed> TableInstaller::Preview(const std::string& table,
                                                                  const std::string& backup_path,
                                                                  const std::string& live_dir,
                                                                  std::optional<absl::Time> until) {
  const std::string scratch = PreviewDir(table);
  if (auto s = files::RemoveTree(options_.env, scratch); !s.ok()) return s;
  absl::StatusOr<Installed> built =
      Build(table, scratch, backup_path, live_dir, until, /*read_back=*/true);
  if (auto s = files::RemoveTree(options_.env, scratch); !s.ok()) {
    log::Warn("cannot remove a dry run's scratch directory",
              {{"path", scratch}, {"error", std::string(s.message())}});
  }
  return built;
}

absl::StatusOr<TableInstaller::Installed> TableInstaller::Build(
    const std::string& table, const std::string& staging, const std::string& backup_path,
    const std::string& source_dir, std::optional<absl::Time> until, bool read_back) {
  Installed installed;
  if (backup_path.empty()) {
    if (auto s = files::CreateDirs(options_.env, staging); !s.ok()) return s;
    absl::StatusOr<bool> whole = ReplayWholeHistory(table, staging, source_dir, until, &installed);
    if (!whole.ok() && !absl::IsDataLoss(whole.status())) return whole.status();
    if (!whole.ok()) {  // what the logs rebuilt does not verify: restart empty
      installed = Installed();
      installed.problems.push_back(
          absl::StrCat("rebuilding the table from its logs failed: ", whole.status().message()));
      if (auto s = files::RemoveTree(options_.env, staging); !s.ok()) return s;
      if (auto s = files::CreateDirs(options_.env, staging); !s.ok()) return s;
    }
    if (!installed.from_logs) {
      if (auto s = files::WriteFileAtomically(
              options_.env, absl::StrCat(staging, "/", storage::kDegradedMarkerFile),
              absl::StrCat("restored empty at ", absl::FormatTime(options_.clock->Now()), "\n"));
          !s.ok()) {
        return s;
      }
      installed.expected = {.record_count = 0};
      installed.may_have_lost = true;
    }
    return installed;
  }
  absl::StatusOr<common::v1::BackupManifest> manifest =
      // Files checked; the records are read back by FinishRestore's
      // traversal of the table the store opens (and by a preview's replay).
      storage::RestoreBackup(backup_path, staging, options_.env, storage::RestoreCheck::kFiles,
                             source_dir);
  if (!manifest.ok()) return manifest.status();
  installed.expected = {manifest->record_count(), manifest->content_hash()};
  if (auto s = Replay(table, staging, *manifest, source_dir, until, read_back, &installed);
      !s.ok()) {
    return s;
  }
  return installed;
}

void TableInstaller::Account(const storage::ReplayReport& report, Installed* installed) {
  installed->replayed_operations = report.operations;
  installed->lost_operations = report.lost_operations;
  installed->left_out_batches = report.left_out_batches;
  installed->left_out_operations = report.left_out_operations;
  installed->restored_to_time = report.last_time;
  installed->restored_to_sequence = report.last_sequence;
  // Damage at the end of the last log hides how much it held.
  if (report.lost_operations > 0 || !report.problems.empty()) installed->may_have_lost = true;
  for (const std::string& p : report.problems) installed->problems.push_back(p);
}

absl::Status TableInstaller::Replay(const std::string& table, const std::string& staging,
                                    const common::v1::BackupManifest& manifest,
                                    const std::string& source_dir, std::optional<absl::Time> until,
                                    bool read_back, Installed* installed) {
  if (manifest.generation().empty()) {
    installed->problems.push_back(absl::StrCat(
        "backup ", manifest.backup_id(),
        " predates the write-ahead log archive: writes made after it cannot be replayed"));
    installed->may_have_lost = true;
    return absl::OkStatus();
  }
  // The logs of the backup's history: the table's own (when it is of that
  // history) and the copies shipped to the backup directory, which are all
  // there is when the table's directory was lost.
  std::vector<storage::WalLog> local;
  if (!source_dir.empty() && options_.env->FileExists(source_dir)) {
    absl::StatusOr<std::string> generation =
        files::ReadFile(options_.env, absl::StrCat(source_dir, "/", storage::kGenerationFile));
    if (generation.ok() && *generation == manifest.generation()) {
      local = storage::ListWalLogs(options_.env, source_dir, manifest.first_log_number());
    } else if (const std::string earlier = QuarantinedHistory(table, manifest.generation());
               !earlier.empty()) {
      // The backup's history was replaced by a restore: the table it
      // replaced, in quarantine, still has its logs (an undo of a
      // point-in-time restore comes back to them).
      local = storage::ListWalLogs(options_.env, earlier, manifest.first_log_number());
      log::Info("replaying the logs of the backup's history from quarantine",
                {{"table", table}, {"backup_id", manifest.backup_id()}, {"path", earlier}});
    } else if (!until.has_value()) {
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
  if (local.empty() && shipped.empty() && source_dir.empty()) {
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
      storage::ReplayWalLogs(options_.env, staging, logs, {.until = until, .read_back = read_back});
  installed->replay_seconds = absl::ToDoubleSeconds(options_.clock->Now() - start);
  if (!report.ok()) return report.status();
  Account(*report, installed);
  // The backup with the writes replayed: as the replay read it back, or
  // for the store's traversal to count.
  if (report->operations > 0) {
    installed->expected = Expect(report->verified);
  }
  log::Info("write-ahead logs replayed onto the backup",
            {{"table", table},
             {"backup_id", manifest.backup_id()},
             {"logs", report->logs},
             {"shipped_logs", static_cast<uint64_t>(shipped.size())},
             {"operations", report->operations},
             {"lost_operations", report->lost_operations},
             {"left_out_batches", report->left_out_batches}});
  return absl::OkStatus();
}

std::string TableInstaller::QuarantinedHistory(const std::string& table,
                                               const std::string& generation) const {
  const std::string qdir = absl::StrCat(options_.topology->data_dir(), "/quarantine");
  std::vector<std::string> children;
  if (!options_.env->GetChildren(qdir, &children).ok()) return "";
  std::sort(children.rbegin(), children.rend());  // newest first: names end in a time
  for (const std::string& child : children) {
    if (!absl::StartsWith(child, absl::StrCat(table, "-"))) continue;
    const std::string dir = absl::StrCat(qdir, "/", child);
    absl::StatusOr<std::string> g =
        files::ReadFile(options_.env, absl::StrCat(dir, "/", storage::kGenerationFile));
    if (g.ok() && *g == generation) return dir;
  }
  return "";
}

absl::StatusOr<bool> TableInstaller::ReplayWholeHistory(const std::string& table,
                                                        const std::string& staging,
                                                        const std::string& source_dir,
                                                        std::optional<absl::Time> until,
                                                        Installed* installed) {
  if (source_dir.empty() || !options_.env->FileExists(source_dir)) return false;
  absl::StatusOr<std::string> generation =
      files::ReadFile(options_.env, absl::StrCat(source_dir, "/", storage::kGenerationFile));
  if (!generation.ok()) return false;
  std::vector<std::string> notes;
  const std::vector<storage::WalLog> logs = storage::ChooseWalLogs(
      options_.env, storage::ListWalLogs(options_.env, source_dir, 0),
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
      storage::ReplayWalLogs(options_.env, staging, logs, {.until = until});
  installed->replay_seconds = absl::ToDoubleSeconds(options_.clock->Now() - start);
  if (!report.ok()) return report.status();
  for (std::string& n : notes) installed->problems.push_back(std::move(n));
  Account(*report, installed);
  installed->expected = Expect(report->verified);
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

}  // namespace agentcom::maintenance
