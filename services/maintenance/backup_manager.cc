#include "services/maintenance/backup_manager.h"

#include <leveldb/env.h>

#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/fault/fault.h"
#include "common/files/files.h"
#include "common/logging/log.h"
#include "common/server/api_checks.h"
#include "common/storage/backup.h"
#include "common/storage/file_backup.h"
#include "common/storage/table.h"
#include "common/storage/wal_archive.h"
#include "common/storage/wal_shipper.h"

namespace agentcom::maintenance {
namespace {

// Temporary backup directories not written to for this long belong to a
// snapshot that died; others may still be being written by a store.
constexpr absl::Duration kStaleTempAge = absl::Minutes(5);

void Describe(const common::v1::BackupManifest& m, v1::BackupInfo* info) {
  info->set_record_count(m.record_count());
  info->set_size_bytes(BackupSize(m));
  info->set_content_hash(m.content_hash());
  info->set_format_version(m.format_version());
  uint64_t shared = 0;
  for (const auto& f : m.files()) {
    if (m.format_version() >= 2 && !f.copied()) shared += f.size_bytes();
  }
  info->set_shared_bytes(shared);
  info->set_new_bytes(BackupSize(m) - shared);
  info->set_generation(m.generation());
  info->set_first_log_number(m.first_log_number());
  if (const std::optional<absl::Time> created = storage::BackupTime(m)) {
    *info->mutable_created() = server::ToProtoTime(*created);
  }
}

}  // namespace

uint64_t BackupSize(const common::v1::BackupManifest& manifest) {
  uint64_t size = 0;
  for (const auto& f : manifest.files()) size += f.size_bytes();
  return size;
}

absl::Status CheckBackupExists(leveldb::Env* env, const std::string& backup_root,
                               const std::string& table, const std::string& backup_id) {
  if (!storage::IsBackupId(backup_id)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "backup_id '", backup_id, "' is not a backup id (e.g. 20261125T140816.123456Z)"));
  }
  if (!env->FileExists(storage::BackupPath(backup_root, table, backup_id))) {
    return absl::NotFoundError(absl::StrCat("backup ", backup_id, " of table ", table));
  }
  return absl::OkStatus();
}

v1::BackupRun BackupManager::NewRun(v1::Trigger trigger) const {
  v1::BackupRun run;
  *run.mutable_time() = server::ToProtoTime(options_.clock->Now());
  run.set_trigger(TriggerName(trigger));
  run.set_directory(options_.topology->backup_dir());
  return run;
}

void BackupManager::RemoveStalePartials(const std::string& table) {
  const std::string root = absl::StrCat(options_.topology->backup_dir(), "/", table);
  std::vector<std::string> children;
  if (!options_.env->GetChildren(root, &children).ok()) return;
  for (const std::string& name : children) {
    if (!absl::StartsWith(name, storage::kTempPrefix)) continue;
    const std::string path = absl::StrCat(root, "/", name);
    // A store may still be writing it (a snapshot an operator asked the
    // store for directly): only one left alone for a while is dead.
    absl::StatusOr<absl::Duration> idle = files::UnmodifiedFor(path);
    if (!idle.ok() || *idle < kStaleTempAge) continue;
    if (auto s = files::RemoveTree(options_.env, path); !s.ok()) {
      log::Warn("cannot remove a partial backup",
                {{"path", path}, {"error", std::string(s.message())}});
      continue;
    }
    log::Info("removed a partial backup", {{"table", table}, {"path", path}});
  }
}

v1::BackupResult BackupManager::BackUp(const std::string& table) {
  const absl::Time start = options_.clock->Now();
  auto seconds = [&] { return absl::ToDoubleSeconds(options_.clock->Now() - start); };
  v1::BackupResult r;
  r.set_table(table);
  RemoveStalePartials(table);
  auto fail = [&](const std::string& error) {
    r.set_ok(false);
    r.set_error(error);
    r.set_duration_seconds(seconds());
    {
      absl::MutexLock l(&mu_);
      last_result_[table] = error;
    }
    options_.metrics->BackupFailed(table, r.duration_seconds());
    options_.events->Add("backup_failed", table, error);
    return r;
  };
  auto snap = options_.stores->Snapshot(table);
  if (!snap.ok()) return fail(absl::StrCat("snapshot failed: ", snap.status().message()));
  const std::string id = snap->manifest().backup_id();
  const std::string path = storage::BackupPath(options_.topology->backup_dir(), table, id);
  fault::KillHereIfAsked("backup");
  // What this backup wrote reads back (format 2: the files it copied; the
  // pool files it shares were checked when they were copied, and the scrub
  // re-reads them).
  auto verified = storage::VerifyBackup(path, options_.env, storage::BackupCheck::kWritten);
  if (!verified.ok()) {
    if (auto s = files::RemoveTree(options_.env, path); !s.ok()) {
      return fail(absl::StrCat("backup ", id, " failed verification (", verified.status().message(),
                               ") and could not be removed: ", s.message()));
    }
    return fail(absl::StrCat(
        "backup ", id, " failed verification and was removed: ", verified.status().message()));
  }
  {
    absl::MutexLock l(&mu_);
    verified_[table].insert(id);
    last_result_[table] = "ok";
  }
  r.set_ok(true);
  r.set_backup_id(id);
  r.set_path(path);
  r.set_size_bytes(BackupSize(*verified));
  r.set_record_count(verified->record_count());
  for (auto& d : ApplyRetention(table)) r.add_deleted(d);
  r.set_duration_seconds(seconds());
  options_.metrics->BackupSucceeded(table, start, r.duration_seconds());
  return r;
}

v1::BackupRun BackupManager::FinishRun(v1::BackupRun run, const std::string& table) {
  std::vector<std::string> done;
  for (const auto& r : run.results()) {
    if (r.ok()) {
      run.set_succeeded(run.succeeded() + 1);
      done.push_back(r.table());
    } else {
      run.set_failed(run.failed() + 1);
    }
  }
  if (table.empty()) {
    options_.events->Add(
        "backup_complete", "",
        absl::StrCat("backed up ", run.succeeded(), " of ", run.results_size(), " tables"),
        {{"tables", absl::StrJoin(done, ",")},
         {"directory", options_.topology->backup_dir()},
         {"failed", absl::StrCat(run.failed())},
         {"trigger", run.trigger()}});
  } else if (run.succeeded() == 1) {
    options_.events->Add("backup_complete", table, absl::StrCat("backed up ", table),
                         {{"tables", table},
                          {"directory", options_.topology->backup_dir()},
                          {"backup_id", run.results(0).backup_id()},
                          {"trigger", run.trigger()}});
  }
  return run;
}

bool BackupManager::IsVerified(const std::string& table, const std::string& id) {
  {
    absl::MutexLock l(&mu_);
    if (verified_[table].count(id)) return true;
  }
  if (!storage::VerifyBackup(storage::BackupPath(options_.topology->backup_dir(), table, id),
                             options_.env, storage::BackupCheck::kChecksums)
           .ok()) {
    return false;
  }
  absl::MutexLock l(&mu_);
  verified_[table].insert(id);
  return true;
}

std::vector<std::string> BackupManager::ApplyRetention(const std::string& table) {
  std::vector<std::string> deleted;
  auto ids = storage::ListBackups(options_.topology->backup_dir(), table);
  if (!ids.ok()) return deleted;
  const size_t keep = options_.topology->maintenance().backup_retention();
  size_t kept = 0;
  // Newest first: keep the newest `keep` that verify. Everything older than
  // the last one kept goes, so the newest verified backup always stays, and
  // damaged backups newer than it stay for inspection.
  bool past_kept = false;
  for (auto it = ids->rbegin(); it != ids->rend(); ++it) {
    if (!past_kept) {
      if (IsVerified(table, *it) && ++kept == keep) past_kept = true;
      continue;
    }
    const std::string path = storage::BackupPath(options_.topology->backup_dir(), table, *it);
    if (auto s = files::RemoveTree(options_.env, path); !s.ok()) {
      log::Warn("retention could not remove a backup",
                {{"path", path}, {"error", std::string(s.message())}});
      continue;
    }
    log::Info("retention removed a backup", {{"table", table}, {"backup_id", *it}});
    deleted.push_back(*it);
    absl::MutexLock l(&mu_);
    verified_[table].erase(*it);
  }
  options_.metrics->BackupsRetained(table, ids->size() - deleted.size());
  // Pool files only removed backups listed; the age keeps files a backup
  // being taken has copied but not listed yet.
  storage::PrunePool(options_.env, options_.topology->backup_dir(), table, kStaleTempAge);
  PruneWalArchive(table);
  return deleted;
}

int BackupManager::PruneWalArchive(const std::string& table) {
  const std::string table_dir = absl::StrCat(options_.topology->data_dir(), "/", table);
  absl::StatusOr<std::string> generation =
      files::ReadFile(options_.env, absl::StrCat(table_dir, "/", storage::kGenerationFile));
  auto ids = storage::ListBackups(options_.topology->backup_dir(), table);
  if (!generation.ok() || !ids.ok()) return 0;
  // Per history of the table, the oldest log a retained backup starts from.
  std::map<std::string, uint64_t> needed_from;
  for (const std::string& id : *ids) {
    auto manifest =
        storage::ReadManifest(storage::BackupPath(options_.topology->backup_dir(), table, id));
    if (!manifest.ok() || manifest->generation().empty() || manifest->first_log_number() == 0) {
      continue;
    }
    uint64_t& from = needed_from[manifest->generation()];
    if (from == 0 || manifest->first_log_number() < from) from = manifest->first_log_number();
  }
  int pruned = 0;
  auto prune_below = [&](const std::string& dir, uint64_t from) {
    for (const storage::WalLog& log : storage::ListWalLogs(options_.env, dir, 0)) {
      if (log.number >= from) break;
      const std::string parent = files::Parent(log.path);
      if (parent == table_dir) continue;  // LevelDB's own live log
      if (files::RemoveFileDurably(options_.env, log.path).ok()) ++pruned;
    }
  };
  // The table's archive: logs of its current history no backup needs.
  if (auto it = needed_from.find(*generation); it != needed_from.end()) {
    prune_below(table_dir, it->second);
  }
  // The shipped copies: the same per history; a history that is not the
  // table's and that no retained backup starts in can no longer be
  // replayed onto anything, and goes whole.
  const std::string shipped_root = storage::ShippedWalRoot(options_.topology->backup_dir(), table);
  std::vector<std::string> histories;
  (void)options_.env->GetChildren(shipped_root, &histories);
  for (const std::string& h : histories) {
    if (h == "." || h == "..") continue;
    const std::string dir = absl::StrCat(shipped_root, "/", h);
    if (auto it = needed_from.find(h); it != needed_from.end()) {
      prune_below(dir, it->second);
    } else if (h != *generation && files::RemoveTree(options_.env, dir).ok()) {
      log::Info("shipped write-ahead logs of an earlier history no backup needs were deleted",
                {{"table", table}, {"generation", h}});
    }
  }
  if (pruned > 0) {
    log::Info("archived and shipped write-ahead logs no backup needs were deleted",
              {{"table", table}, {"logs", pruned}});
  }
  return pruned;
}

absl::StatusOr<v1::ListBackupsResponse> BackupManager::List(
    const std::vector<std::string>& tables) const {
  v1::ListBackupsResponse out;
  for (const std::string& table : tables) {
    auto local = storage::ListBackups(options_.topology->backup_dir(), table);
    if (!local.ok()) return local.status();
    std::set<std::string> ids(local->begin(), local->end());
    std::set<std::string> remote;
    if (options_.remote != nullptr) {
      const RemoteMirror::Progress p = options_.remote->progress(table);
      remote.insert(p.remote_backups.begin(), p.remote_backups.end());
      ids.insert(remote.begin(), remote.end());
      v1::RemoteBackupStatus* status = out.add_remote();
      status->set_table(table);
      status->set_destination(options_.remote->Describe());
      if (p.remote_through != absl::InfinitePast()) {
        *status->mutable_through() = server::ToProtoTime(p.remote_through);
        status->set_lag_seconds(absl::ToDoubleSeconds(options_.clock->Now() - p.remote_through));
      }
      status->set_pending_bytes(p.pending_bytes);
      status->set_uploaded_bytes(p.uploaded_bytes);
      status->set_failures(p.failures);
      status->set_last_error(p.last_error);
    }
    const std::set<std::string> here(local->begin(), local->end());
    for (auto it = ids.rbegin(); it != ids.rend(); ++it) {
      v1::BackupInfo* info = out.add_backups();
      info->set_table(table);
      info->set_backup_id(*it);
      info->set_local(here.count(*it) > 0);
      info->set_remote(remote.count(*it) > 0);
      if (!info->local()) {
        if (std::optional<absl::Time> t = storage::BackupIdTime(*it); t.has_value()) {
          *info->mutable_created() = server::ToProtoTime(*t);
        }
        continue;
      }
      auto manifest =
          storage::ReadManifest(storage::BackupPath(options_.topology->backup_dir(), table, *it));
      if (!manifest.ok()) continue;
      Describe(*manifest, info);
      if (manifest->generation().empty()) continue;
      const std::vector<storage::WalLog> shipped = storage::ListWalLogs(
          options_.env,
          storage::ShippedWalDir(options_.topology->backup_dir(), table, manifest->generation()),
          manifest->first_log_number());
      info->set_shipped_logs(static_cast<uint32_t>(shipped.size()));
      if (shipped.empty()) continue;
      // Logs are shipped in number order, so the newest is the last written.
      if (absl::StatusOr<absl::Duration> age = files::UnmodifiedFor(shipped.back().path);
          age.ok()) {
        *info->mutable_shipped_logs_through() = server::ToProtoTime(absl::Now() - *age);
      }
    }
  }
  return out;
}

absl::StatusOr<v1::VerifyBackupResponse> BackupManager::Verify(const std::string& table,
                                                               const std::string& backup_id) const {
  if (auto s = CheckBackupExists(options_.env, options_.topology->backup_dir(), table, backup_id);
      !s.ok()) {
    return s;
  }
  const std::string path = storage::BackupPath(options_.topology->backup_dir(), table, backup_id);
  v1::VerifyBackupResponse out;
  auto manifest = storage::VerifyBackup(path, options_.env);
  out.set_ok(manifest.ok());
  if (!manifest.ok()) {
    out.set_error(std::string(manifest.status().message()));
    return out;
  }
  out.mutable_backup()->set_table(table);
  out.mutable_backup()->set_backup_id(backup_id);
  Describe(*manifest, out.mutable_backup());
  return out;
}

storage::ScrubReport BackupManager::Scrub(const std::string& table) {
  const absl::Time start = options_.clock->Now();
  storage::ScrubReport report =
      storage::ScrubPool(options_.env, options_.topology->backup_dir(), table,
                         absl::StrCat(options_.topology->data_dir(), "/", table));
  options_.metrics->Scrub(table, start, report.damaged.size(), report.repaired.size());
  {
    absl::MutexLock l(&mu_);
    for (const std::string& id : report.unusable_backups) verified_[table].erase(id);
  }
  const std::map<std::string, std::string> details = {
      {"files", absl::StrCat(report.files)},
      {"bytes", absl::StrCat(report.bytes)},
      {"damaged", absl::StrJoin(report.damaged, ",")},
      {"repaired", absl::StrJoin(report.repaired, ",")},
      {"unusable_backups", absl::StrJoin(report.unusable_backups, ",")},
      {"seconds", absl::StrCat(absl::ToDoubleSeconds(options_.clock->Now() - start))}};
  if (!report.damaged.empty()) {
    options_.events->Add(
        "scrub_damage", table,
        absl::StrCat(report.damaged.size(), " damaged backup file(s) of ", table, ", ",
                     report.repaired.size(), " repaired from the live table; ",
                     report.unusable_backups.size(), " backup(s) unusable"),
        details);
  }
  options_.events->Add("scrub_complete", table,
                       absl::StrCat("scrubbed ", report.files, " backup file(s) of ", table),
                       details);
  return report;
}

std::optional<std::string> BackupManager::LastResult(const std::string& table) const {
  absl::MutexLock l(&mu_);
  auto it = last_result_.find(table);
  if (it == last_result_.end()) return std::nullopt;
  return it->second;
}

}  // namespace agentcom::maintenance
