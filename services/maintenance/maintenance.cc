#include "services/maintenance/maintenance.h"

#include <google/protobuf/util/json_util.h>
#include <leveldb/env.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/fault/fault.h"
#include "common/files/files.h"
#include "common/logging/log.h"
#include "common/server/api_checks.h"
#include "common/storage/backup.h"
#include "common/storage/table.h"

namespace agentcom::maintenance {
namespace {

namespace fs = std::filesystem;
using server::ToProtoTime;

constexpr size_t kHistoryRuns = 20;
// Temporary backup directories older than this belong to a snapshot that
// died; younger ones may still be being written by a store.
constexpr auto kStaleTempAge = std::chrono::minutes(5);
// First retry of a failed automatic restore, doubling up to the maximum.
constexpr absl::Duration kRestoreRetryBase = absl::Seconds(5);
constexpr absl::Duration kRestoreRetryMax = absl::Seconds(60);

double Seconds(absl::Duration d) { return absl::ToDoubleSeconds(d); }


std::string OutcomeName(v1::CompactionOutcome o) {
  switch (o) {
    case v1::COMPACTION_OUTCOME_COMPACTED: return "compacted";
    case v1::COMPACTION_OUTCOME_SKIPPED: return "skipped";
    case v1::COMPACTION_OUTCOME_ERROR: return "error";
    default: return "unknown";
  }
}

std::string ToJson(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions print;
  print.preserve_proto_field_names = true;
  print.add_whitespace = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, print);
  return out;
}

uint64_t BackupSize(const common::v1::BackupManifest& m) {
  uint64_t size = 0;
  for (const auto& f : m.files()) size += f.size_bytes();
  return size;
}

}  // namespace

struct MaintenanceCore::Metrics {
  explicit Metrics(prometheus::Registry& r)
      : backup_last_success(prometheus::BuildGauge()
                                .Name("agentcom_backup_last_success_timestamp_seconds")
                                .Help("Unix time of the table's last verified backup.")
                                .Register(r)),
        backup_duration(prometheus::BuildGauge()
                            .Name("agentcom_backup_last_duration_seconds")
                            .Help("Duration of the table's last backup attempt.")
                            .Register(r)),
        backups_retained(prometheus::BuildGauge()
                             .Name("agentcom_backups_retained")
                             .Help("Backups of the table on disk after retention.")
                             .Register(r)),
        backup_failures(prometheus::BuildCounter()
                            .Name("agentcom_backup_failures_total")
                            .Help("Failed backups of the table.")
                            .Register(r)),
        compactions(prometheus::BuildCounter()
                        .Name("agentcom_compactions_total")
                        .Help("Compaction attempts by table and result.")
                        .Register(r)),
        compaction_duration(prometheus::BuildHistogram()
                                .Name("agentcom_compaction_duration_seconds")
                                .Help("Duration of compactions that ran.")
                                .Register(r)),
        recoveries(prometheus::BuildCounter()
                       .Name("agentcom_recoveries_total")
                       .Help("Restores by table, trigger (auto, manual) and result.")
                       .Register(r)),
        recovery_duration(prometheus::BuildHistogram()
                              .Name("agentcom_recovery_duration_seconds")
                              .Help("Time from the start of a restore to verified serving.")
                              .Register(r)),
        degraded(prometheus::BuildGauge()
                     .Name("agentcom_table_degraded")
                     .Help("1 when the table was restored empty because no backup was usable.")
                     .Register(r)),
        corruption_reports(prometheus::BuildCounter()
                               .Name("agentcom_corruption_reports_total")
                               .Help("Corruption reports received from stores.")
                               .Register(r)) {}

  prometheus::Family<prometheus::Gauge>& backup_last_success;
  prometheus::Family<prometheus::Gauge>& backup_duration;
  prometheus::Family<prometheus::Gauge>& backups_retained;
  prometheus::Family<prometheus::Counter>& backup_failures;
  prometheus::Family<prometheus::Counter>& compactions;
  prometheus::Family<prometheus::Histogram>& compaction_duration;
  prometheus::Family<prometheus::Counter>& recoveries;
  prometheus::Family<prometheus::Histogram>& recovery_duration;
  prometheus::Family<prometheus::Gauge>& degraded;
  prometheus::Family<prometheus::Counter>& corruption_reports;

  static prometheus::Histogram::BucketBoundaries Buckets() {
    return {0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600};
  }
};

MaintenanceCore::MaintenanceCore(Options options) : options_(std::move(options)) {
  for (const auto& store : options_.topology.stores()) {
    for (const auto& t : store.tables()) {
      table_locks_[t.name()] = std::make_unique<absl::Mutex>();
    }
  }
  if (options_.metrics != nullptr) {
    metrics_ = std::make_unique<Metrics>(*options_.metrics);
    // Every series exists from the start, so alerts and dashboards see 0s.
    for (const auto& [table, lock] : table_locks_) {
      metrics_->backup_failures.Add({{"table", table}});
      metrics_->backups_retained.Add({{"table", table}});
      metrics_->degraded.Add({{"table", table}});
      metrics_->corruption_reports.Add({{"table", table}});
      metrics_->compaction_duration.Add({{"table", table}}, Metrics::Buckets());
      metrics_->recovery_duration.Add({{"table", table}}, Metrics::Buckets());
      for (const char* trigger : {"auto", "manual"}) {
        for (const char* result : {"restored", "degraded", "failed"}) {
          metrics_->recoveries.Add({{"table", table}, {"trigger", trigger}, {"result", result}});
        }
      }
      for (const char* result : {"compacted", "skipped", "error"}) {
        metrics_->compactions.Add({{"table", table}, {"result", result}});
      }
    }
  }
}

MaintenanceCore::~MaintenanceCore() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  if (worker_.joinable()) worker_.join();
}

absl::Status MaintenanceCore::CheckTable(const std::string& table) const {
  if (table_locks_.count(table) == 0) {
    return absl::NotFoundError(absl::StrCat("table ", table, " is not in the topology"));
  }
  return absl::OkStatus();
}

const config::StoreSpec& MaintenanceCore::StoreOf(const std::string& table) const {
  return **config::FindStoreOfTable(options_.topology, table);
}

absl::Mutex& MaintenanceCore::TableLock(const std::string& table) const {
  return *table_locks_.at(table);
}

std::string MaintenanceCore::TableDir(const std::string& table) const {
  return absl::StrCat(options_.topology.data_dir(), "/", table);
}

absl::Status MaintenanceCore::Start() {
  const std::string history_path = options_.topology.state_dir() + "/compaction_history.json";
  if (std::ifstream in(history_path); in) {
    std::stringstream text;
    text << in.rdbuf();
    absl::MutexLock l(&mu_);
    if (!google::protobuf::util::JsonStringToMessage(text.str(), &history_).ok()) {
      log::Warn("ignoring an unreadable compaction history", {{"file", history_path}});
      history_.Clear();
    }
  }
  // Restores a crash interrupted are redone from the start: every step
  // tolerates the state any earlier step left, and the store is always
  // started again at the end.
  std::vector<v1::RestoreResult> resume;
  const fs::path journal_dir = fs::path(options_.topology.state_dir()) / "restore-journal";
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(journal_dir, ec)) {
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    v1::RestoreResult journal;
    if (!google::protobuf::util::JsonStringToMessage(text.str(), &journal).ok() ||
        !CheckTable(journal.table()).ok()) {
      log::Warn("ignoring an unreadable restore journal", {{"file", entry.path().string()}});
      continue;
    }
    log::Warn("resuming a restore interrupted by a crash",
              {{"table", journal.table()}, {"step", journal.reason()}});
    resume.push_back(std::move(journal));
  }
  {
    absl::MutexLock l(&mu_);
    for (v1::RestoreResult& journal : resume) {
      const std::string table = journal.table();
      if (!inflight_.emplace(table, std::make_shared<InFlight>()).second) continue;
      restore_queue_.push_back({.table = table,
                                .trigger = journal.trigger(),
                                .generation = generation_[table],
                                .resume = std::move(journal)});
    }
  }
  worker_ = std::thread([this] { RestoreWorker(); });
  // Tables a store already knows to be corrupted (it may have reported
  // while maintenance was down).
  for (const auto& [table, lock] : table_locks_) {
    auto stats = options_.stores->GetTableStats(table);
    if (stats.ok() && stats->state() == common::v1::TABLE_STATE_CORRUPTED) {
      (void)ReportCorruption(table, absl::StrCat("found at start-up: ", stats->state_reason()));
    }
    // Installed by a restore whose journal is gone (it could not be
    // written): never served, so restoring it again loses nothing.
    if (stats.ok() && stats->state() == common::v1::TABLE_STATE_RESTORING) {
      (void)ReportCorruption(table, "found restoring at start-up with no restore in progress");
    }
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------- backups

v1::BackupRun MaintenanceCore::BackupAll(const std::string& trigger) {
  absl::MutexLock run(&backup_run_mu_);
  v1::BackupRun result;
  *result.mutable_time() = ToProtoTime(options_.clock->Now());
  result.set_trigger(trigger);
  result.set_directory(options_.topology.backup_dir());
  std::vector<std::string> done;
  for (const auto& [table, lock] : table_locks_) {
    absl::MutexLock l(lock.get());
    v1::BackupResult r = BackupLocked(table);
    if (r.ok()) {
      result.set_succeeded(result.succeeded() + 1);
      done.push_back(table);
    } else {
      result.set_failed(result.failed() + 1);
    }
    *result.add_results() = std::move(r);
  }
  options_.events->Add("backup_complete", "",
                       absl::StrCat("backed up ", result.succeeded(), " of ",
                                    result.results_size(), " tables"),
                       {{"tables", absl::StrJoin(done, ",")},
                        {"directory", options_.topology.backup_dir()},
                        {"failed", absl::StrCat(result.failed())},
                        {"trigger", trigger}});
  return result;
}

absl::StatusOr<v1::BackupRun> MaintenanceCore::BackupTable(const std::string& table,
                                                           const std::string& trigger) {
  if (auto s = CheckTable(table); !s.ok()) return s;
  v1::BackupRun result;
  *result.mutable_time() = ToProtoTime(options_.clock->Now());
  result.set_trigger(trigger);
  result.set_directory(options_.topology.backup_dir());
  {
    absl::MutexLock l(&TableLock(table));
    *result.add_results() = BackupLocked(table);
  }
  const bool ok = result.results(0).ok();
  result.set_succeeded(ok ? 1 : 0);
  result.set_failed(ok ? 0 : 1);
  if (ok) {
    options_.events->Add("backup_complete", table, absl::StrCat("backed up ", table),
                         {{"tables", table},
                          {"directory", options_.topology.backup_dir()},
                          {"backup_id", result.results(0).backup_id()},
                          {"trigger", trigger}});
  }
  return result;
}

v1::BackupResult MaintenanceCore::BackupLocked(const std::string& table) {
  const absl::Time start = options_.clock->Now();
  const absl::Time wall_start = absl::Now();
  v1::BackupResult r;
  r.set_table(table);
  // Temporary directories left by a snapshot that died.
  std::error_code ec;
  const fs::path root = fs::path(options_.topology.backup_dir()) / table;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(storage::kTempPrefix, 0) == 0 &&
        fs::last_write_time(entry.path(), ec) < fs::file_time_type::clock::now() - kStaleTempAge) {
      fs::remove_all(entry.path(), ec);
      log::Info("removed a partial backup", {{"table", table}, {"path", entry.path().string()}});
    }
  }
  auto fail = [&](const std::string& error) {
    r.set_ok(false);
    r.set_error(error);
    r.set_duration_seconds(Seconds(absl::Now() - wall_start));
    {
      absl::MutexLock l(&mu_);
      last_backup_result_[table] = error;
    }
    if (metrics_) {
      metrics_->backup_failures.Add({{"table", table}}).Increment();
      metrics_->backup_duration.Add({{"table", table}}).Set(r.duration_seconds());
    }
    options_.events->Add("backup_failed", table, error);
    return r;
  };
  auto snap = options_.stores->Snapshot(table);
  if (!snap.ok()) {
    return fail(absl::StrCat("snapshot failed: ", snap.status().message()));
  }
  const std::string id = snap->manifest().backup_id();
  const std::string path = storage::BackupPath(options_.topology.backup_dir(), table, id);
  fault::KillHereIfAsked("backup");
  auto verified = storage::VerifyBackup(path);
  if (!verified.ok()) {
    fs::remove_all(path, ec);
    return fail(absl::StrCat("backup ", id, " failed verification and was removed: ",
                             verified.status().message()));
  }
  {
    absl::MutexLock l(&mu_);
    verified_[table].insert(id);
    last_backup_result_[table] = "ok";
  }
  r.set_ok(true);
  r.set_backup_id(id);
  r.set_path(path);
  r.set_size_bytes(BackupSize(*verified));
  r.set_record_count(verified->record_count());
  for (auto& d : ApplyRetention(table)) r.add_deleted(d);
  r.set_duration_seconds(Seconds(absl::Now() - wall_start));
  if (metrics_) {
    metrics_->backup_last_success.Add({{"table", table}})
        .Set(absl::ToDoubleSeconds(start - absl::UnixEpoch()));
    metrics_->backup_duration.Add({{"table", table}}).Set(r.duration_seconds());
  }
  return r;
}

bool MaintenanceCore::IsVerified(const std::string& table, const std::string& id) {
  {
    absl::MutexLock l(&mu_);
    if (verified_[table].count(id)) return true;
  }
  if (!storage::VerifyBackup(storage::BackupPath(options_.topology.backup_dir(), table, id)).ok()) {
    return false;
  }
  absl::MutexLock l(&mu_);
  verified_[table].insert(id);
  return true;
}

std::vector<std::string> MaintenanceCore::ApplyRetention(const std::string& table) {
  std::vector<std::string> deleted;
  auto ids = storage::ListBackups(options_.topology.backup_dir(), table);
  if (!ids.ok()) return deleted;
  const size_t keep = options_.topology.maintenance().backup_retention();
  size_t kept = 0;
  // Newest first: keep the newest `keep` that verify. Everything older than
  // the last one kept goes, so the newest verified backup always stays.
  bool past_kept = false;
  for (auto it = ids->rbegin(); it != ids->rend(); ++it) {
    if (!past_kept && IsVerified(table, *it)) {
      if (++kept == keep) past_kept = true;
      continue;
    }
    if (!past_kept) continue;  // unverified but newer than what we keep
    std::error_code ec;
    fs::remove_all(storage::BackupPath(options_.topology.backup_dir(), table, *it), ec);
    deleted.push_back(*it);
    absl::MutexLock l(&mu_);
    verified_[table].erase(*it);
  }
  if (metrics_) {
    metrics_->backups_retained.Add({{"table", table}})
        .Set(static_cast<double>(ids->size() - deleted.size()));
  }
  return deleted;
}

absl::StatusOr<v1::ListBackupsResponse> MaintenanceCore::ListBackups(const std::string& table) {
  if (!table.empty()) {
    if (auto s = CheckTable(table); !s.ok()) return s;
  }
  v1::ListBackupsResponse out;
  for (const auto& [name, lock] : table_locks_) {
    if (!table.empty() && name != table) continue;
    auto ids = storage::ListBackups(options_.topology.backup_dir(), name);
    if (!ids.ok()) return ids.status();
    for (auto it = ids->rbegin(); it != ids->rend(); ++it) {
      v1::BackupInfo* info = out.add_backups();
      info->set_table(name);
      info->set_backup_id(*it);
      auto manifest =
          storage::ReadManifest(storage::BackupPath(options_.topology.backup_dir(), name, *it));
      if (manifest.ok()) {
        info->set_record_count(manifest->record_count());
        info->set_size_bytes(BackupSize(*manifest));
        info->set_content_hash(manifest->content_hash());
        absl::Time created;
        std::string err;
        if (absl::ParseTime(absl::RFC3339_full, manifest->created_at(), &created, &err)) {
          *info->mutable_created() = ToProtoTime(created);
        }
      }
    }
  }
  return out;
}

absl::StatusOr<v1::VerifyBackupResponse> MaintenanceCore::VerifyBackup(
    const std::string& table, const std::string& backup_id) {
  if (auto s = CheckTable(table); !s.ok()) return s;
  // Backups are named by id and resolved here; an id is never a path.
  if (!storage::IsBackupId(backup_id)) {
    return absl::InvalidArgumentError(
        absl::StrCat("backup_id '", backup_id, "' is not a backup id (e.g. 20261125T140816.123456Z)"));
  }
  const std::string path = storage::BackupPath(options_.topology.backup_dir(), table, backup_id);
  if (!fs::exists(path)) {
    return absl::NotFoundError(absl::StrCat("backup ", backup_id, " of table ", table));
  }
  v1::VerifyBackupResponse out;
  auto manifest = storage::VerifyBackup(path);
  out.set_ok(manifest.ok());
  if (!manifest.ok()) {
    out.set_error(std::string(manifest.status().message()));
  } else {
    out.mutable_backup()->set_table(table);
    out.mutable_backup()->set_backup_id(backup_id);
    out.mutable_backup()->set_record_count(manifest->record_count());
    out.mutable_backup()->set_size_bytes(BackupSize(*manifest));
    out.mutable_backup()->set_content_hash(manifest->content_hash());
  }
  return out;
}

// ------------------------------------------------------------- compaction

v1::CompactionResult MaintenanceCore::CompactLocked(const std::string& table, bool force) {
  const absl::Time start = absl::Now();
  v1::CompactionResult r;
  r.set_table(table);
  auto stats = options_.stores->GetTableStats(table);
  if (!stats.ok()) {
    r.set_outcome(v1::COMPACTION_OUTCOME_ERROR);
    r.set_reason(std::string(stats.status().message()));
  } else {
    r.set_fragmentation_before(stats->fragmentation_ratio());
    r.set_disk_bytes_before(stats->disk_bytes());
    if (!force &&
        stats->fragmentation_ratio() < options_.topology.maintenance().compaction_threshold()) {
      r.set_outcome(v1::COMPACTION_OUTCOME_SKIPPED);
      r.set_reason("below_threshold");
    } else {
      auto compacted = options_.stores->Compact(table);
      if (!compacted.ok()) {
        log::Warn("compaction failed; retrying once",
                  {{"table", table}, {"error", std::string(compacted.status().message())}});
        r.set_retried(true);
        compacted = options_.stores->Compact(table);
      }
      fault::KillHereIfAsked("compaction");
      if (compacted.ok()) {
        r.set_outcome(v1::COMPACTION_OUTCOME_COMPACTED);
        r.set_fragmentation_after(compacted->after().fragmentation_ratio());
        r.set_disk_bytes_after(compacted->after().disk_bytes());
      } else {
        r.set_outcome(v1::COMPACTION_OUTCOME_ERROR);
        r.set_reason(std::string(compacted.status().message()));
      }
    }
  }
  r.set_duration_seconds(Seconds(absl::Now() - start));
  if (metrics_) {
    metrics_->compactions.Add({{"table", table}, {"result", OutcomeName(r.outcome())}}).Increment();
    if (r.outcome() != v1::COMPACTION_OUTCOME_SKIPPED) {
      metrics_->compaction_duration.Add({{"table", table}}, Metrics::Buckets())
          .Observe(r.duration_seconds());
    }
  }
  return r;
}

v1::CompactionRun MaintenanceCore::FinishCompactionRun(v1::CompactionRun run, absl::Time start) {
  std::vector<std::string> failed;
  for (const auto& r : run.results()) {
    if (r.outcome() == v1::COMPACTION_OUTCOME_COMPACTED) run.set_compacted(run.compacted() + 1);
    if (r.outcome() == v1::COMPACTION_OUTCOME_SKIPPED) run.set_skipped(run.skipped() + 1);
    if (r.outcome() == v1::COMPACTION_OUTCOME_ERROR) {
      run.set_failed(run.failed() + 1);
      failed.push_back(r.table());
    }
  }
  run.set_tables_total(run.results_size());
  run.set_duration_seconds(Seconds(absl::Now() - start));
  {
    absl::MutexLock l(&mu_);
    v1::CompactionHistory updated;
    *updated.add_runs() = run;
    for (const auto& old : history_.runs()) {
      if (static_cast<size_t>(updated.runs_size()) == kHistoryRuns) break;
      *updated.add_runs() = old;
    }
    history_ = std::move(updated);
    if (auto s = WriteFileAtomically(options_.topology.state_dir() + "/compaction_history.json",
                                     ToJson(history_));
        !s.ok()) {
      log::Error("cannot persist compaction history", {{"error", std::string(s.message())}});
    }
  }
  options_.events->Add("compaction_complete", run.results_size() == 1 ? run.results(0).table() : "",
                       absl::StrCat("compacted ", run.compacted(), ", skipped ", run.skipped(),
                                    ", failed ", run.failed(), " of ", run.tables_total()),
                       {{"compacted", absl::StrCat(run.compacted())},
                        {"skipped", absl::StrCat(run.skipped())},
                        {"failed", absl::StrCat(run.failed())},
                        {"trigger", run.trigger()}});
  if (!failed.empty()) {
    options_.events->Add("compaction_failed", absl::StrJoin(failed, ","),
                         absl::StrCat("compaction failed for ", absl::StrJoin(failed, ", ")),
                         {{"trigger", run.trigger()}});
  }
  return run;
}

v1::CompactionRun MaintenanceCore::CompactAll(bool force, const std::string& trigger) {
  absl::MutexLock run_lock(&compact_run_mu_);
  const absl::Time start = absl::Now();
  v1::CompactionRun run;
  *run.mutable_time() = ToProtoTime(options_.clock->Now());
  run.set_trigger(trigger);
  run.set_forced(force);
  for (const auto& [table, lock] : table_locks_) {  // serially (C2)
    absl::MutexLock l(lock.get());
    *run.add_results() = CompactLocked(table, force);
  }
  return FinishCompactionRun(std::move(run), start);
}

absl::StatusOr<v1::CompactionRun> MaintenanceCore::CompactTable(const std::string& table) {
  if (auto s = CheckTable(table); !s.ok()) return s;
  const absl::Time start = absl::Now();
  v1::CompactionRun run;
  *run.mutable_time() = ToProtoTime(options_.clock->Now());
  run.set_trigger("manual");
  run.set_forced(true);
  {
    absl::MutexLock l(&TableLock(table));
    *run.add_results() = CompactLocked(table, true);
  }
  return FinishCompactionRun(std::move(run), start);
}

v1::CompactionHistory MaintenanceCore::CompactionHistory() const {
  absl::MutexLock l(&mu_);
  return history_;
}

// ---------------------------------------------------------------- restore

absl::StatusOr<bool> MaintenanceCore::ReportCorruption(const std::string& table,
                                                       const std::string& reason) {
  if (auto s = CheckTable(table); !s.ok()) return s;
  if (metrics_) metrics_->corruption_reports.Add({{"table", table}}).Increment();
  {
    absl::MutexLock l(&mu_);
    if (inflight_.count(table)) return false;
    inflight_[table] = std::make_shared<InFlight>();
    restore_queue_.push_back({.table = table, .trigger = "auto", .generation = generation_[table]});
  }
  options_.events->Add("corruption_detected", table, reason, {{"store", StoreOf(table).name()}});
  return true;
}

void MaintenanceCore::RestoreWorker() {
  while (true) {
    RestoreJob job;
    {
      absl::MutexLock l(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        if (stopping_) return true;
        const absl::Time now = absl::Now();
        for (const RestoreJob& j : restore_queue_) {
          if (j.not_before <= now) return true;
        }
        return false;
      };
      while (!ready()) {
        absl::Time next = absl::InfiniteFuture();
        for (const RestoreJob& j : restore_queue_) next = std::min(next, j.not_before);
        mu_.AwaitWithDeadline(absl::Condition(&ready), next);
      }
      if (stopping_) return;
      auto it = std::find_if(restore_queue_.begin(), restore_queue_.end(),
                             [now = absl::Now()](const RestoreJob& j) { return j.not_before <= now; });
      job = *it;
      restore_queue_.erase(it);
      restore_busy_ = true;
    }
    v1::RestoreResult result;
    bool ran = true;
    {
      absl::MutexLock l(&TableLock(job.table));
      // A restore that finished after this job was queued (a manual one
      // with a named backup) already replaced the damaged table, and agents
      // may have written to it since: restoring again would move their
      // writes to quarantine. Only a table that is still corrupted is
      // restored again.
      bool superseded;
      {
        absl::MutexLock ml(&mu_);
        superseded = generation_[job.table] != job.generation;
        if (superseded) result = last_result_[job.table];
      }
      if (superseded) {
        auto stats = options_.stores->GetTableStats(job.table);
        superseded = !stats.ok() || stats->state() != common::v1::TABLE_STATE_CORRUPTED;
      }
      if (superseded) {
        log::Info("corruption report already handled by a later restore",
                  {{"table", job.table}});
        ran = false;
      } else {
        result = RestoreLocked(job.table, "", job.trigger, job.resume);
      }
    }
    bool retry = false;
    if (ran && result.outcome() == v1::RESTORE_OUTCOME_FAILED) {
      // Retried while the table is still corrupted or its store cannot be
      // asked (stopped, or supervisord down with it).
      auto stats = options_.stores->GetTableStats(job.table);
      retry = !stats.ok() || stats->state() == common::v1::TABLE_STATE_CORRUPTED ||
              stats->state() == common::v1::TABLE_STATE_RESTORING;
    }
    absl::MutexLock l(&mu_);
    restore_busy_ = false;
    if (retry && !stopping_) {
      const absl::Duration backoff =
          std::min(kRestoreRetryBase * (1 << std::min(job.attempt, 4)), kRestoreRetryMax);
      log::Warn("restore failed; retrying", {{"table", job.table},
                                             {"attempt", job.attempt + 1},
                                             {"in_seconds", absl::ToDoubleSeconds(backoff)},
                                             {"error", result.reason()}});
      job.attempt += 1;
      job.not_before = absl::Now() + backoff;
      job.resume.reset();
      job.generation = generation_[job.table];
      restore_queue_.push_back(std::move(job));
    } else {
      FinishInFlight(job.table, result);
    }
  }
}

void MaintenanceCore::FinishInFlight(const std::string& table, const v1::RestoreResult& result) {
  auto it = inflight_.find(table);
  if (it == inflight_.end()) return;
  it->second->result = result;
  it->second->done = true;
  inflight_.erase(it);
}

bool MaintenanceCore::WaitRestoresIdle(absl::Duration timeout) {
  absl::MutexLock l(&mu_);
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return restore_queue_.empty() && !restore_busy_;
  };
  return mu_.AwaitWithTimeout(absl::Condition(&idle), timeout);
}

absl::StatusOr<v1::RestoreResult> MaintenanceCore::RestoreTable(const std::string& table,
                                                                const std::string& backup_id,
                                                                const std::string& trigger) {
  if (auto s = CheckTable(table); !s.ok()) return s;
  if (!backup_id.empty()) {
    if (!storage::IsBackupId(backup_id)) {
      return absl::InvalidArgumentError(absl::StrCat("backup_id '", backup_id, "' is not a backup id"));
    }
    if (!fs::exists(storage::BackupPath(options_.topology.backup_dir(), table, backup_id))) {
      return absl::NotFoundError(absl::StrCat("backup ", backup_id, " of table ", table));
    }
  }
  // A restore of "the newest good backup" requested while another restore of
  // the table is queued or running joins it: running a second one right
  // after would throw away what agents wrote to the freshly restored table.
  // A restore of a named backup is an explicit choice and runs after it.
  std::shared_ptr<InFlight> joined;
  std::shared_ptr<InFlight> mine;
  {
    absl::MutexLock l(&mu_);
    auto it = inflight_.find(table);
    if (it != inflight_.end() && backup_id.empty()) {
      joined = it->second;
    } else if (it == inflight_.end()) {
      mine = std::make_shared<InFlight>();
      inflight_[table] = mine;
    }
  }
  if (joined) {
    log::Info("restore request joins the one in progress", {{"table", table}});
    absl::MutexLock l(&mu_);
    mu_.Await(absl::Condition(&joined->done));
    return joined->result;
  }
  v1::RestoreResult result;
  {
    absl::MutexLock l(&TableLock(table));
    result = RestoreLocked(table, backup_id, trigger, std::nullopt);
  }
  if (mine) {
    absl::MutexLock l(&mu_);
    FinishInFlight(table, result);
  }
  return result;
}

void MaintenanceCore::WriteJournal(const std::string& table, const std::string& trigger,
                                   const std::string& step, const std::string& backup_id,
                                   const std::string& quarantine_path) {
  v1::RestoreResult journal;
  journal.set_table(table);
  journal.set_trigger(trigger);
  journal.set_reason(step);
  journal.set_backup_id(backup_id);
  journal.set_quarantine_path(quarantine_path);
  if (auto s = WriteFileAtomically(
          absl::StrCat(options_.topology.state_dir(), "/restore-journal/", table, ".json"),
          ToJson(journal));
      !s.ok()) {
    log::Error("cannot write the restore journal", {{"table", table}});
  }
  fault::KillHereIfAsked(step);
}

void MaintenanceCore::RemoveJournal(const std::string& table) {
  std::error_code ec;
  fs::remove(absl::StrCat(options_.topology.state_dir(), "/restore-journal/", table, ".json"), ec);
}

absl::Status MaintenanceCore::Quarantine(const std::string& table, std::string* moved_to) {
  std::error_code ec;
  if (!fs::exists(TableDir(table), ec)) return absl::OkStatus();
  const fs::path qdir = fs::path(options_.topology.data_dir()) / "quarantine";
  fs::create_directories(qdir, ec);
  fs::path target = qdir / absl::StrCat(table, "-", storage::BackupIdFor(absl::Now()));
  fs::rename(TableDir(table), target, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot move ", TableDir(table), " to quarantine: ", ec.message()));
  }
  if (moved_to->empty()) *moved_to = target.string();
  log::Warn("table moved to quarantine", {{"table", table}, {"path", target.string()}});
  return absl::OkStatus();
}

absl::Status MaintenanceCore::InstallRestoring(const std::string& table,
                                               const std::string& backup_path) {
  std::error_code ec;
  const std::string staging = absl::StrCat(options_.topology.data_dir(), "/.restore-", table);
  fs::remove_all(staging, ec);
  if (backup_path.empty()) {
    fs::create_directories(staging, ec);
    std::ofstream(absl::StrCat(staging, "/", storage::kDegradedMarkerFile))
        << "restored empty at " << absl::FormatTime(absl::Now()) << "\n";
  } else if (auto restored = storage::RestoreBackup(backup_path, staging); !restored.ok()) {
    return restored.status();
  }
  // The store opens the table RESTORING and serves no agent until
  // FinishRestore has verified it (R3).
  if (auto s = files::WriteFileAtomically(
          leveldb::Env::Default(), absl::StrCat(staging, "/", storage::kRestoringMarkerFile),
          "installed by maintenance; serving once verified\n");
      !s.ok()) {
    return s;
  }
  fs::rename(staging, TableDir(table), ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot install: ", ec.message()));
  return files::SyncDirectory(options_.topology.data_dir());
}

bool MaintenanceCore::Serving(const std::string& table) {
  auto stats = options_.stores->GetTableStats(table);
  return stats.ok() && (stats->state() == common::v1::TABLE_STATE_OK ||
                        stats->state() == common::v1::TABLE_STATE_DEGRADED);
}

v1::RestoreResult MaintenanceCore::RestoreLocked(const std::string& table,
                                                 const std::string& backup_id,
                                                 const std::string& trigger,
                                                 const std::optional<v1::RestoreResult>& resume) {
  const absl::Time start = absl::Now();
  const std::string store = StoreOf(table).name();
  const absl::Duration start_timeout =
      absl::Seconds(options_.topology.maintenance().store_start_timeout_seconds());
  v1::RestoreResult result;
  result.set_table(table);
  result.set_trigger(trigger);
  auto& steps = *result.mutable_step_seconds();
  auto timed = [&](const char* step, auto fn) {
    const absl::Time t = absl::Now();
    auto s = fn();
    steps[step] += Seconds(absl::Now() - t);
    return s;
  };

  auto finish = [&](v1::RestoreOutcome outcome, const std::string& reason) {
    result.set_outcome(outcome);
    result.set_reason(reason);
    result.set_duration_seconds(Seconds(absl::Now() - start));
    RemoveJournal(table);
    const char* name = outcome == v1::RESTORE_OUTCOME_RESTORED   ? "restored"
                       : outcome == v1::RESTORE_OUTCOME_DEGRADED ? "degraded"
                                                                 : "failed";
    if (outcome != v1::RESTORE_OUTCOME_FAILED) {
      absl::MutexLock l(&mu_);
      ++generation_[table];
      last_result_[table] = result;
    }
    if (metrics_) {
      metrics_->recoveries.Add({{"table", table}, {"trigger", trigger}, {"result", name}})
          .Increment();
      metrics_->recovery_duration.Add({{"table", table}}, Metrics::Buckets())
          .Observe(result.duration_seconds());
      metrics_->degraded.Add({{"table", table}})
          .Set(outcome == v1::RESTORE_OUTCOME_DEGRADED ? 1 : 0);
    }
    std::map<std::string, std::string> details = {
        {"trigger", trigger},
        {"backup_id", result.backup_id()},
        {"records", absl::StrCat(result.record_count())},
        {"seconds", absl::StrCat(result.duration_seconds())},
        {"quarantine", result.quarantine_path()},
        {"rejected_backups", absl::StrCat(result.rejected_backups_size())}};
    for (const auto& [step, seconds] : result.step_seconds()) {
      details[absl::StrCat("step_", step, "_seconds")] = absl::StrCat(seconds);
    }
    if (outcome == v1::RESTORE_OUTCOME_RESTORED) {
      options_.events->Add("recovery_complete", table,
                           absl::StrCat("restored ", table, " from backup ", result.backup_id()),
                           details);
    } else {
      if (outcome == v1::RESTORE_OUTCOME_DEGRADED) {
        log::Critical("table restored EMPTY: no usable backup; its files are in quarantine",
                      {{"table", table}, {"quarantine", result.quarantine_path()}});
      }
      details["reason"] = reason;
      options_.events->Add("recovery_failed", table, reason, details);
    }
    return result;
  };

  // A restore resumed after maintenance was killed. Once the store has made
  // the installed table serve (only FinishRestore does that, after verifying
  // it), agents may have written to it: the restore is complete and must not
  // be redone. Before that point nothing was served, and redoing it from the
  // start is safe.
  if (resume.has_value()) {
    result.set_quarantine_path(resume->quarantine_path());
    const std::string& step = resume->reason();
    if ((step == "starting" || step == "verifying" || step == "starting_empty" ||
         step == "serving") &&
        Serving(table)) {
      result.set_backup_id(resume->backup_id());
      if (auto stats = options_.stores->GetTableStats(table); stats.ok()) {
        result.set_record_count(stats->records());
      }
      log::Info("an interrupted restore had already finished", {{"table", table}, {"step", step}});
      return step == "starting_empty" || (step == "serving" && resume->backup_id().empty())
                 ? finish(v1::RESTORE_OUTCOME_DEGRADED,
                          "no backup could be restored; the table restarted empty")
                 : finish(v1::RESTORE_OUTCOME_RESTORED, "");
    }
  }

  options_.events->Add("recovery_started", table,
                       absl::StrCat("restoring ", table, " (", trigger, ")"),
                       {{"trigger", trigger}});
  WriteJournal(table, trigger, "started", "", result.quarantine_path());

  // Stops the store and moves the table aside (the first time, the damaged
  // original; later, a restored copy that never served an agent).
  auto stop_and_quarantine = [&](const std::string& id) -> absl::Status {
    WriteJournal(table, trigger, "stopping", id, result.quarantine_path());
    if (auto s = timed("stop", [&] { return options_.supervisor->Stop(store); }); !s.ok()) {
      (void)options_.supervisor->Start(store);
      return absl::UnavailableError(absl::StrCat("cannot stop store ", store, ": ", s.message()));
    }
    WriteJournal(table, trigger, "quarantining", id, result.quarantine_path());
    std::string qpath = result.quarantine_path();
    if (auto s = timed("quarantine", [&] { return Quarantine(table, &qpath); }); !s.ok()) {
      (void)options_.supervisor->Start(store);
      return s;
    }
    result.set_quarantine_path(qpath);
    return absl::OkStatus();
  };
  // Starts the store with the installed table RESTORING and has it verified
  // against `expected`. OK once the table serves.
  auto start_and_verify = [&](const std::string& id, const storage::VerifyResult& expected,
                              const char* step) -> absl::Status {
    WriteJournal(table, trigger, step, id, result.quarantine_path());
    if (auto s = timed("start", [&] { return StartServing(store, table, start_timeout); });
        !s.ok()) {
      return absl::UnavailableError(absl::StrCat("store did not start: ", s.message()));
    }
    WriteJournal(table, trigger, step == std::string("starting") ? "verifying" : step, id,
                 result.quarantine_path());
    auto finished = timed("verify", [&] {
      return options_.stores->FinishRestore(table, expected.record_count, expected.content_hash);
    });
    // The store may have finished and the answer got lost: a serving table
    // was verified by the store, and agents may already use it.
    if (!finished.ok() && !Serving(table)) return finished.status();
    WriteJournal(table, trigger, "serving", id, result.quarantine_path());
    return absl::OkStatus();
  };

  std::vector<std::string> candidates;
  if (!backup_id.empty()) {
    candidates.push_back(backup_id);
  } else if (auto ids = storage::ListBackups(options_.topology.backup_dir(), table); ids.ok()) {
    candidates.assign(ids->rbegin(), ids->rend());
  }
  for (const std::string& id : candidates) {
    const std::string path = storage::BackupPath(options_.topology.backup_dir(), table, id);
    auto manifest = storage::VerifyBackup(path);  // a backup that verifies on its own
    if (!manifest.ok()) {
      result.add_rejected_backups(absl::StrCat(id, ": ", manifest.status().message()));
      continue;
    }
    if (auto s = stop_and_quarantine(id); !s.ok()) {
      return finish(v1::RESTORE_OUTCOME_FAILED, std::string(s.message()));
    }
    WriteJournal(table, trigger, "installing", id, result.quarantine_path());
    if (auto s = timed("install", [&] { return InstallRestoring(table, path); }); !s.ok()) {
      result.add_rejected_backups(absl::StrCat(id, ": ", s.message()));
      continue;
    }
    absl::Status verified =
        start_and_verify(id, {manifest->record_count(), manifest->content_hash()}, "starting");
    if (absl::IsDataLoss(verified) || absl::IsFailedPrecondition(verified)) {
      // The installed copy does not verify as the store opened it. It never
      // served an agent (it was RESTORING), so trying the next backup loses
      // nothing.
      result.add_rejected_backups(absl::StrCat(id, ": ", verified.message()));
      continue;
    }
    if (!verified.ok()) {
      // Not the backup's fault (the store would not start, or could not be
      // asked): the table stays RESTORING and the restore is retried.
      return finish(v1::RESTORE_OUTCOME_FAILED, std::string(verified.message()));
    }
    result.set_backup_id(id);
    result.set_record_count(manifest->record_count());
    result.set_size_bytes(BackupSize(*manifest));
    return finish(v1::RESTORE_OUTCOME_RESTORED, "");
  }

  // No backup left: degraded mode, the table restarts empty (R4), verified
  // empty before it serves like any restored table.
  WriteJournal(table, trigger, "degrading", "", result.quarantine_path());
  if (auto s = stop_and_quarantine(""); !s.ok()) {
    return finish(v1::RESTORE_OUTCOME_FAILED, std::string(s.message()));
  }
  const std::string why =
      candidates.empty()
          ? "no backup of the table exists"
          : absl::StrCat("no backup could be restored (",
                         absl::StrJoin(result.rejected_backups(), "; "), ")");
  if (auto s = InstallRestoring(table, ""); !s.ok()) {
    return finish(v1::RESTORE_OUTCOME_FAILED,
                  absl::StrCat(why, "; restarting empty failed too: ", s.message()));
  }
  if (auto s = start_and_verify("", {0, ""}, "starting_empty"); !s.ok()) {
    return finish(v1::RESTORE_OUTCOME_FAILED,
                  absl::StrCat(why, "; restarting empty failed too: ", s.message()));
  }
  return finish(v1::RESTORE_OUTCOME_DEGRADED, absl::StrCat(why, "; the table restarted empty"));
}

absl::Status MaintenanceCore::StartServing(const std::string& store, const std::string& table,
                                           absl::Duration timeout) {
  if (auto s = options_.supervisor->Start(store); !s.ok()) return s;
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    const absl::Duration left = deadline - absl::Now();
    absl::Status serving =
        options_.stores->WaitServing(table, std::min(left, absl::Milliseconds(500)));
    if (serving.ok() || absl::Now() >= deadline) return serving;
    auto state = options_.supervisor->GetState(store);
    if (state.ok() && (*state == ProcessState::kFatal || *state == ProcessState::kStopped ||
                       *state == ProcessState::kExited)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "store ", store, " is ", ProcessStateName(*state), " after start: ", serving.message()));
    }
  }
}

// ----------------------------------------------------------------- health

v1::GetHealthResponse MaintenanceCore::GetHealth() {
  v1::GetHealthResponse out;
  out.set_compaction_threshold(options_.topology.maintenance().compaction_threshold());
  const v1::CompactionHistory history = CompactionHistory();
  for (const auto& store : options_.topology.stores()) {
    for (const auto& t : store.tables()) {
      v1::TableHealth* h = out.add_tables();
      h->set_store(store.name());
      bool restoring;
      {
        absl::MutexLock l(&mu_);
        restoring = inflight_.count(t.name()) > 0;
        auto it = last_backup_result_.find(t.name());
        if (it != last_backup_result_.end()) h->set_last_backup_result(it->second);
      }
      auto stats = options_.stores->GetTableStats(t.name());
      if (stats.ok()) {
        *h->mutable_stats() = *stats;
      } else {
        h->mutable_stats()->set_table(t.name());
        h->mutable_stats()->set_state(common::v1::TABLE_STATE_UNAVAILABLE);
        h->mutable_stats()->set_state_reason(std::string(stats.status().message()));
      }
      if (restoring) h->mutable_stats()->set_state(common::v1::TABLE_STATE_RESTORING);
      if (auto ids = storage::ListBackups(options_.topology.backup_dir(), t.name());
          ids.ok() && !ids->empty()) {
        h->set_backups_retained(static_cast<uint32_t>(ids->size()));
        h->set_last_backup_id(ids->back());
        auto manifest = storage::ReadManifest(
            storage::BackupPath(options_.topology.backup_dir(), t.name(), ids->back()));
        absl::Time created;
        std::string err;
        if (manifest.ok() &&
            absl::ParseTime(absl::RFC3339_full, manifest->created_at(), &created, &err)) {
          *h->mutable_last_backup_time() = ToProtoTime(created);
        }
      }
      for (const auto& run : history.runs()) {
        bool found = false;
        for (const auto& r : run.results()) {
          if (r.table() != t.name()) continue;
          *h->mutable_last_compaction_time() = run.time();
          h->set_last_compaction_result(
              r.reason().empty() ? OutcomeName(r.outcome())
                                 : absl::StrCat(OutcomeName(r.outcome()), ": ", r.reason()));
          found = true;
        }
        if (found) break;
      }
    }
  }
  return out;
}

}  // namespace agentcom::maintenance
