#include "services/maintenance/maintenance.h"

#include <leveldb/env.h>

#include <algorithm>
#include <functional>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/logging/log.h"

namespace agentcom::maintenance {
namespace {

std::map<std::string, std::unique_ptr<absl::Mutex>> LocksFor(const config::Topology& topology) {
  std::map<std::string, std::unique_ptr<absl::Mutex>> locks;
  for (const auto& store : topology.stores()) {
    for (const auto& t : store.tables()) locks[t.name()] = std::make_unique<absl::Mutex>();
  }
  return locks;
}

// In name order, as the locks are taken by the runs over every table.
std::vector<std::string> TableNames(const config::Topology& topology) {
  std::set<std::string> names;
  for (const auto& store : topology.stores()) {
    for (const auto& t : store.tables()) names.insert(t.name());
  }
  return {names.begin(), names.end()};
}

std::unique_ptr<RemoteMirror> MakeMirror(const MaintenanceCore::Options& options, leveldb::Env* env,
                                         MaintenanceMetrics* metrics,
                                         std::function<void(const std::string&)> on_only_remote) {
  if (options.remote == nullptr) return nullptr;
  const auto& config = options.topology.maintenance().remote_backup();
  metrics->RemoteConfigured(absl::Seconds(config.max_lag_seconds()));
  return std::make_unique<RemoteMirror>(RemoteMirror::Options{
      .destination = options.remote,
      .env = env,
      .clock = options.clock,
      .backup_root = options.topology.backup_dir(),
      .tables = TableNames(options.topology),
      .parallelism = static_cast<int>(std::max<uint32_t>(config.parallelism(), 1)),
      .on_round =
          [metrics](const std::string& table, const RemoteMirror::Progress& p, uint64_t uploaded) {
            metrics->RemoteRound(table, uploaded, !p.last_error.empty(), p.remote_through,
                                 p.pending_bytes);
          },
      .on_only_remote = std::move(on_only_remote)});
}

}  // namespace

MaintenanceCore::MaintenanceCore(Options options)
    : options_(std::move(options)),
      env_(options_.env != nullptr ? options_.env : leveldb::Env::Default()),
      table_locks_(LocksFor(options_.topology)),
      metrics_(options_.metrics, TableNames(options_.topology)),
      mirror_(MakeMirror(options_, env_, &metrics_,
                         [this](const std::string& t) { OnlyRemoteBackups(t); })),
      backups_({.topology = &options_.topology,
                .clock = options_.clock,
                .env = env_,
                .stores = options_.stores,
                .events = options_.events,
                .metrics = &metrics_,
                .remote = mirror_.get()}),
      history_(env_, options_.topology.state_dir() + "/compaction_history.json"),
      compactor_({.threshold = options_.topology.maintenance().compaction_threshold(),
                  .clock = options_.clock,
                  .stores = options_.stores,
                  .events = options_.events,
                  .metrics = &metrics_,
                  .history = &history_}),
      journal_(env_, options_.topology.state_dir() + "/restore-journal"),
      restorer_({.topology = &options_.topology,
                 .clock = options_.clock,
                 .env = env_,
                 .supervisor = options_.supervisor,
                 .stores = options_.stores,
                 .events = options_.events,
                 .metrics = &metrics_,
                 .journal = &journal_,
                 .remote = mirror_.get()}),
      health_({.topology = &options_.topology,
               .stores = options_.stores,
               .backups = &backups_,
               .history = &history_,
               .restoring = [this](const std::string& t) { return queue_.InProgress(t); }}),
      queue_({.clock = options_.clock,
              .restore = [this](const RestoreRequest& r) { return RestoreLocked(r); },
              .needs_restore = [this](const std::string& t) { return NeedsRestore(t); }}) {}

MaintenanceCore::~MaintenanceCore() = default;

absl::Status MaintenanceCore::CheckTable(const std::string& table) const {
  if (table_locks_.count(table) == 0) {
    return absl::NotFoundError(absl::StrCat("table ", table, " is not in the topology"));
  }
  return absl::OkStatus();
}

absl::Mutex& MaintenanceCore::TableLock(const std::string& table) const {
  return *table_locks_.at(table);
}

std::vector<std::string> MaintenanceCore::Tables() const { return TableNames(options_.topology); }

absl::Status MaintenanceCore::Start() {
  history_.Load();
  // Restores a crash interrupted go first: the journal says how far each got.
  for (v1::RestoreJournal& journal : journal_.LoadAll()) {
    if (!CheckTable(journal.table()).ok()) {
      log::Warn("ignoring the restore journal of a table not in the topology",
                {{"table", journal.table()}});
      continue;
    }
    log::Warn("resuming a restore interrupted by a crash",
              {{"table", journal.table()}, {"step", StepName(journal.step())}});
    RestoreRequest request{.table = journal.table(), .trigger = journal.trigger()};
    if (journal.has_records_at_corruption()) {
      request.records_at_corruption = journal.records_at_corruption();
    }
    request.resume = std::move(journal);
    queue_.Enqueue(std::move(request));
  }
  queue_.Start();
  if (mirror_ != nullptr) {
    mirror_->Start(
        absl::Seconds(options_.topology.maintenance().remote_backup().upload_interval_seconds()));
  }
  // Tables a store already knows to be corrupted (it may have reported
  // while maintenance was down), and tables installed by a restore whose
  // journal is gone (it could not be written): never served, so restoring
  // them again serves nothing wrong. (A restore that installed a table and
  // could not start it keeps its journal, and is resumed above.)
  for (const std::string& table : Tables()) {
    auto stats = options_.stores->GetTableStats(table);
    if (!stats.ok()) continue;
    if (stats->state() == common::v1::TABLE_STATE_CORRUPTED) {
      (void)ReportCorruption(table, absl::StrCat("found at start-up: ", stats->state_reason()));
    } else if (stats->state() == common::v1::TABLE_STATE_RESTORING) {
      (void)ReportCorruption(table, "found restoring at start-up with no restore in progress");
    }
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------- backups

v1::BackupRun MaintenanceCore::BackupAll(v1::Trigger trigger) {
  absl::MutexLock run_lock(&backup_run_mu_);
  v1::BackupRun run = backups_.NewRun(trigger);
  for (const auto& [table, lock] : table_locks_) {
    absl::MutexLock l(lock.get());
    *run.add_results() = backups_.BackUp(table);
  }
  return backups_.FinishRun(std::move(run), "");
}

void MaintenanceCore::ScrubAll() {
  std::vector<std::string> back_up;
  for (const auto& [table, lock] : table_locks_) {
    absl::MutexLock l(lock.get());
    if (!backups_.Scrub(table).unusable_backups.empty()) back_up.push_back(table);
  }
  for (const std::string& table : back_up) (void)BackupTable(table, v1::TRIGGER_SCHEDULED);
}

absl::StatusOr<v1::BackupRun> MaintenanceCore::BackupTable(const std::string& table,
                                                           v1::Trigger trigger) {
  if (auto s = CheckTable(table); !s.ok()) return s;
  v1::BackupRun run = backups_.NewRun(trigger);
  {
    absl::MutexLock l(&TableLock(table));
    *run.add_results() = backups_.BackUp(table);
  }
  return backups_.FinishRun(std::move(run), table);
}

absl::StatusOr<v1::ListBackupsResponse> MaintenanceCore::ListBackups(const std::string& table) {
  if (table.empty()) return backups_.List(Tables());
  if (auto s = CheckTable(table); !s.ok()) return s;
  return backups_.List({table});
}

absl::StatusOr<v1::VerifyBackupResponse> MaintenanceCore::VerifyBackup(
    const std::string& table, const std::string& backup_id) {
  if (auto s = CheckTable(table); !s.ok()) return s;
  return backups_.Verify(table, backup_id);
}

// ------------------------------------------------------------- compaction

v1::CompactionRun MaintenanceCore::CompactAll(bool force, v1::Trigger trigger) {
  absl::MutexLock run_lock(&compact_run_mu_);
  v1::CompactionRun run = compactor_.NewRun(trigger, force);
  for (const auto& [table, lock] : table_locks_) {  // serially (C2)
    absl::MutexLock l(lock.get());
    *run.add_results() = compactor_.CompactTable(table, force);
  }
  return compactor_.FinishRun(std::move(run));
}

absl::StatusOr<v1::CompactionRun> MaintenanceCore::CompactTable(const std::string& table) {
  if (auto s = CheckTable(table); !s.ok()) return s;
  v1::CompactionRun run = compactor_.NewRun(v1::TRIGGER_MANUAL, true);
  {
    absl::MutexLock l(&TableLock(table));
    *run.add_results() = compactor_.CompactTable(table, true);
  }
  return compactor_.FinishRun(std::move(run));
}

v1::CompactionHistory MaintenanceCore::CompactionHistory() const { return history_.Get(); }

// ---------------------------------------------------------------- restore

absl::StatusOr<bool> MaintenanceCore::ReportCorruption(const std::string& table,
                                                       const std::string& reason,
                                                       std::optional<uint64_t> records) {
  if (auto s = CheckTable(table); !s.ok()) return s;
  metrics_.CorruptionReported(table);
  if (!queue_.Enqueue(
          {.table = table, .trigger = v1::TRIGGER_AUTO, .records_at_corruption = records})) {
    return false;
  }
  options_.events->Add("corruption_detected", table, reason,
                       {{"store", (*config::FindStoreOfTable(options_.topology, table))->name()}});
  return true;
}

absl::StatusOr<v1::RestoreResult> MaintenanceCore::RestoreTable(const std::string& table,
                                                                const std::string& backup_id,
                                                                v1::Trigger trigger,
                                                                const RestoreTarget& target) {
  if (auto s = CheckTable(table); !s.ok()) return s;
  if (!backup_id.empty()) {
    if (auto s = CheckBackupExists(env_, options_.topology.backup_dir(), table, backup_id);
        !s.ok()) {
      return s;
    }
  }
  RestoreRequest request{
      .table = table, .backup_id = backup_id, .trigger = trigger, .target_time = target.time};
  if (auto s = restorer_.CheckTarget(request); !s.ok()) return s;
  if (target.dry_run) {
    absl::MutexLock l(&TableLock(table));
    return restorer_.Preview(request);
  }
  return queue_.RunNow(request);
}

v1::RestoreResult MaintenanceCore::RestoreLocked(const RestoreRequest& request) {
  absl::MutexLock l(&TableLock(request.table));
  v1::RestoreResult result = restorer_.Restore(request);
  if (result.outcome() != v1::RESTORE_OUTCOME_FAILED) {
    // The restored table is a new LevelDB history (a new generation): until
    // it has a backup of its own, a restore could not replay the writes
    // made to it.
    v1::BackupResult backup = backups_.BackUp(request.table);
    log::Info("restored table backed up", {{"table", request.table},
                                           {"ok", backup.ok() ? "true" : "false"},
                                           {"backup_id", backup.backup_id()}});
  }
  return result;
}

bool MaintenanceCore::NeedsRestore(const std::string& table) {
  auto stats = options_.stores->GetTableStats(table);
  return !stats.ok() || stats->state() == common::v1::TABLE_STATE_CORRUPTED ||
         stats->state() == common::v1::TABLE_STATE_RESTORING;
}

void MaintenanceCore::OnlyRemoteBackups(const std::string& table) {
  auto stats = options_.stores->GetTableStats(table);
  if (!stats.ok()) return;  // NeedsRestore's business
  if (stats->state() != common::v1::TABLE_STATE_OK || stats->records() > 0) {
    log::Warn("the local backup directory has no backup of this table; the remote one has",
              {{"table", table}, {"records", stats->records()}});
    return;
  }
  // An empty table, no local backup, backups off the host: this host lost
  // its data (or is a new host for it). Restore without waiting for an
  // operator; the empty table goes to quarantine as in every restore.
  (void)ReportCorruption(table,
                         "the table is empty and this host has no backup of it, but the remote "
                         "destination holds backups: this host lost its data");
}

absl::Status MaintenanceCore::SyncRemote() {
  if (mirror_ == nullptr) {
    return absl::FailedPreconditionError("no remote backup destination is configured");
  }
  return mirror_->SyncAll();
}

bool MaintenanceCore::WaitRestoresIdle(absl::Duration timeout) { return queue_.WaitIdle(timeout); }

// ----------------------------------------------------------------- health

v1::GetHealthResponse MaintenanceCore::GetHealth() { return health_.Get(); }

}  // namespace agentcom::maintenance
