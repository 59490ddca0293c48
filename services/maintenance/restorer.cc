#include "services/maintenance/restorer.h"

#include <leveldb/env.h>

#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/fault/fault.h"
#include "common/files/files.h"
#include "common/logging/log.h"
#include "common/server/api_checks.h"
#include "common/storage/backup.h"
#include "common/storage/table.h"
#include "services/maintenance/backup_manager.h"
#include "services/maintenance/table_installer.h"

namespace agentcom::maintenance {

using v1::RestoreStep;

namespace {

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime(absl::RFC3339_full, t, absl::UTCTimeZone());
}

std::string FormatProtoTime(const google::protobuf::Timestamp& t) {
  return Rfc3339(server::FromProtoTime(t));
}

// What an install (or its dry run) brought back, into the result.
void RecordInstalled(const TableInstaller::Installed& installed, v1::RestoreResult* result) {
  result->set_replayed_operations(installed.replayed_operations);
  result->set_lost_operations(installed.lost_operations);
  for (const std::string& p : installed.problems) result->add_replay_problems(p);
  if (installed.restored_to_sequence > 0) {
    result->set_restored_to_sequence(installed.restored_to_sequence);
    if (installed.restored_to_time != absl::InfinitePast()) {
      *result->mutable_restored_to_time() = server::ToProtoTime(installed.restored_to_time);
    }
  }
  result->set_left_out_batches(installed.left_out_batches);
  result->set_left_out_operations(installed.left_out_operations);
}

}  // namespace

// One call of Restore: the result being built, the journal, and the steps.
class Restorer::Run {
 public:
  Run(Restorer* restorer, const RestoreRequest& request)
      : r_(restorer),
        o_(restorer->options_),
        table_(request.table),
        store_((*config::FindStoreOfTable(*o_.topology, table_))->name()),
        trigger_(request.trigger),
        records_at_corruption_(request.records_at_corruption),
        target_(request.target_time),
        start_(o_.clock->Now()) {
    result_.set_table(table_);
    result_.set_trigger(TriggerName(trigger_));
    journal_.set_table(table_);
    journal_.set_trigger(trigger_);
    *journal_.mutable_started() = server::ToProtoTime(start_);
    if (records_at_corruption_.has_value()) {
      result_.set_records_at_corruption(*records_at_corruption_);
      journal_.set_records_at_corruption(*records_at_corruption_);
    }
    if (target_.has_value()) {
      *result_.mutable_target_time() = server::ToProtoTime(*target_);
      *journal_.mutable_target_time() = server::ToProtoTime(*target_);
    }
  }

  v1::RestoreResult Execute(const RestoreRequest& request);

 private:
  std::string TableDir() const { return absl::StrCat(o_.topology->data_dir(), "/", table_); }

  // Journals `step` and passes the fault-injection point named after it.
  void Journal(RestoreStep step, const std::string& backup_id);
  // Runs `fn`, adding its duration to the step's seconds in the result.
  template <typename Fn>
  auto Timed(const char* step, Fn fn) {
    const absl::Time t = o_.clock->Now();
    auto s = fn();
    (*result_.mutable_step_seconds())[step] += absl::ToDoubleSeconds(o_.clock->Now() - t);
    return s;
  }
  // Stops the store and moves the table directory to quarantine (the first
  // time the damaged original; later a restored copy that never served).
  // On error the store is started again with the table where it was.
  absl::Status StopAndQuarantine(const std::string& backup_id);
  absl::Status Quarantine();
  // Installs the backup at `backup_path` (empty: an empty degraded table)
  // with the damaged table's later writes replayed (TableInstaller), and
  // records the replay in the result. `expected` gets what the installed
  // table must hold. DATA_LOSS when the backup itself does not read back.
  absl::Status Install(const std::string& backup_path, storage::RestoreExpectation* expected);
  // After an error that is not a backup's fault, or a point-in-time restore
  // that could restore no backup: puts the table back as it was before this
  // restore (its first quarantine, if it got there) and starts the store.
  // Whatever is in the table's place (a copy installed, then rejected or not
  // finished; it never served) goes to quarantine first: nothing is deleted.
  // On error the table stays in quarantine, the journal naming it stays for
  // the retry, and the store starts all the same.
  absl::Status PutBack(const std::string& backup_id);
  // Starts the store with the installed table RESTORING and has the store
  // verify it against `expected`; OK once the table serves, with the
  // records the store counted in the result. DATA_LOSS or
  // FAILED_PRECONDITION: the installed copy does not verify.
  absl::Status StartAndVerify(const std::string& backup_id,
                              const storage::RestoreExpectation& expected, RestoreStep first_step);
  // Starts the store and waits until it answers SERVING; fails early when
  // the supervisor gives the process up or it stops again.
  absl::Status StartServing();
  // Ends the restore: records the outcome, reports it, and forgets the
  // journal unless `keep_journal` (a restore that installed a table and
  // could not start it: its retry must resume it, see Restorer::Restore).
  v1::RestoreResult Finish(v1::RestoreOutcome outcome, const std::string& reason,
                           bool keep_journal = false);

  Restorer* const r_;
  const Options& o_;
  const std::string table_;
  const std::string store_;
  const v1::Trigger trigger_;
  const std::optional<uint64_t> records_at_corruption_;
  const std::optional<absl::Time> target_;
  // The last Install rebuilt the table from its logs alone (no backup).
  bool from_logs_ = false;
  const absl::Time start_;
  v1::RestoreResult result_;
  v1::RestoreJournal journal_;
  TableInstaller installer_{{.topology = o_.topology, .clock = o_.clock, .env = o_.env}};
};

void Restorer::Run::Journal(RestoreStep step, const std::string& backup_id) {
  journal_.set_step(step);
  journal_.set_backup_id(backup_id);
  journal_.set_quarantine_path(result_.quarantine_path());
  if (auto s = o_.journal->Write(journal_); !s.ok()) {
    log::Error("cannot write the restore journal",
               {{"table", table_}, {"error", std::string(s.message())}});
  }
  fault::KillHereIfAsked(StepName(step));
}

absl::Status Restorer::Run::Quarantine() {
  // Nothing there (an earlier candidate's install failed): nothing to move.
  if (!o_.env->FileExists(TableDir())) return absl::OkStatus();
  const std::string qdir = absl::StrCat(o_.topology->data_dir(), "/quarantine");
  if (auto s = files::CreateDirs(o_.env, qdir); !s.ok()) return s;
  std::string target = absl::StrCat(qdir, "/", table_, "-", storage::BackupIdFor(o_.clock->Now()));
  for (int n = 2; o_.env->FileExists(target); ++n) {  // never over an earlier one
    target = absl::StrCat(qdir, "/", table_, "-", storage::BackupIdFor(o_.clock->Now()), "-", n);
  }
  if (auto s = files::RenameDurably(o_.env, TableDir(), target); !s.ok()) {
    return absl::UnavailableError(
        absl::StrCat("cannot move ", TableDir(), " to quarantine: ", s.message()));
  }
  if (result_.quarantine_path().empty()) result_.set_quarantine_path(target);
  log::Warn("table moved to quarantine", {{"table", table_}, {"path", target}});
  return absl::OkStatus();
}

absl::Status Restorer::Run::StopAndQuarantine(const std::string& backup_id) {
  Journal(v1::RESTORE_STEP_STOPPING, backup_id);
  if (auto s = Timed("stop", [&] { return o_.supervisor->Stop(store_); }); !s.ok()) {
    (void)o_.supervisor->Start(store_);
    return absl::UnavailableError(absl::StrCat("cannot stop store ", store_, ": ", s.message()));
  }
  Journal(v1::RESTORE_STEP_QUARANTINING, backup_id);
  if (auto s = Timed("quarantine", [&] { return Quarantine(); }); !s.ok()) {
    (void)o_.supervisor->Start(store_);
    return s;
  }
  return absl::OkStatus();
}

absl::Status Restorer::Run::Install(const std::string& backup_path,
                                    storage::RestoreExpectation* expected) {
  absl::StatusOr<TableInstaller::Installed> installed =
      installer_.Install(table_, backup_path, result_.quarantine_path(), target_);
  if (!installed.ok()) return installed.status();
  *expected = installed->expected;
  // A point-in-time restore leaves writes out on purpose, and a table
  // restored empty lost them all (and says so).
  if (!target_.has_value() && !backup_path.empty()) {
    expected->records_at_corruption = records_at_corruption_;
  }
  from_logs_ = installed->from_logs;
  RecordInstalled(*installed, &result_);
  if (installed->replay_seconds > 0) {
    (*result_.mutable_step_seconds())["replay"] += installed->replay_seconds;
  }
  return absl::OkStatus();
}

absl::Status Restorer::Run::PutBack(const std::string& backup_id) {
  Journal(v1::RESTORE_STEP_ROLLING_BACK, backup_id);
  (void)installer_.RemoveStaging(table_);
  const std::string original = result_.quarantine_path();
  absl::Status s;
  if (!original.empty()) {
    if (o_.env->FileExists(TableDir())) {
      s = o_.supervisor->Stop(store_);
      if (s.ok()) s = Quarantine();
    }
    if (s.ok()) s = files::RenameDurably(o_.env, original, TableDir());
    if (s.ok()) {
      log::Warn("table put back from quarantine", {{"table", table_}, {"path", original}});
      result_.clear_quarantine_path();
    } else {
      log::Error("cannot put the table back; it stays in quarantine",
                 {{"table", table_}, {"path", original}, {"error", std::string(s.message())}});
    }
  }
  (void)o_.supervisor->Start(store_);
  return s;
}

absl::Status Restorer::Run::StartServing() {
  if (auto s = o_.supervisor->Start(store_); !s.ok()) return s;
  const absl::Time deadline =
      o_.clock->Now() + absl::Seconds(o_.topology->maintenance().store_start_timeout_seconds());
  while (true) {
    const absl::Time now = o_.clock->Now();
    absl::Status serving =
        o_.stores->WaitServing(table_, std::min(deadline - now, absl::Milliseconds(500)));
    if (serving.ok()) return serving;
    if (o_.clock->Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "store ", store_, " did not serve within ",
          o_.topology->maintenance().store_start_timeout_seconds(), " s: ", serving.message()));
    }
    auto state = o_.supervisor->GetState(store_);
    if (state.ok() && (*state == ProcessState::kFatal || *state == ProcessState::kStopped ||
                       *state == ProcessState::kExited)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "store ", store_, " is ", ProcessStateName(*state), " after start: ", serving.message()));
    }
    // WaitServing may return at once (nothing listens yet).
    o_.clock->SleepFor(absl::Milliseconds(20));
  }
}

absl::Status Restorer::Run::StartAndVerify(const std::string& backup_id,
                                           const storage::RestoreExpectation& expected,
                                           RestoreStep first_step) {
  Journal(first_step, backup_id);
  if (auto s = Timed("start", [&] { return StartServing(); }); !s.ok()) {
    return absl::UnavailableError(absl::StrCat("store did not start: ", s.message()));
  }
  if (first_step == v1::RESTORE_STEP_STARTING) Journal(v1::RESTORE_STEP_VERIFYING, backup_id);
  auto finished = Timed("verify", [&] { return o_.stores->FinishRestore(table_, expected); });
  // The store may have finished and the answer got lost: a serving table
  // was verified by the store, and agents may already use it.
  if (!finished.ok() && !r_->Serving(table_)) return finished.status();
  Journal(v1::RESTORE_STEP_SERVING, backup_id);
  if (finished.ok()) {
    result_.set_record_count(finished->verified().record_count());
  } else if (auto stats = o_.stores->GetTableStats(table_); stats.ok()) {
    result_.set_record_count(stats->records());
  }
  if (expected.records_at_corruption.has_value() &&
      *expected.records_at_corruption != result_.record_count()) {
    // The store has raised the table's sequence floor (RestoreExpectation).
    result_.add_replay_problems(
        absl::StrCat("the store held ", *expected.records_at_corruption,
                     " records when it found the corruption; the restored table holds ",
                     result_.record_count()));
  }
  return absl::OkStatus();
}

v1::RestoreResult Restorer::Run::Finish(v1::RestoreOutcome outcome, const std::string& reason,
                                        bool keep_journal) {
  result_.set_outcome(outcome);
  result_.set_reason(reason);
  result_.set_duration_seconds(absl::ToDoubleSeconds(o_.clock->Now() - start_));
  // A failure after the table went to quarantine, and was not put back
  // (PutBack clears the path when it puts it back): the data is only in
  // that quarantine, so the journal, which names it, must stay for the
  // next attempt (e.g. a resumed restore that could not stop the store).
  if (outcome == v1::RESTORE_OUTCOME_FAILED && !result_.quarantine_path().empty()) {
    keep_journal = true;
  }
  if (keep_journal) {
    log::Warn("the restore stays journaled; its retry resumes it",
              {{"table", table_}, {"quarantine", result_.quarantine_path()}});
  } else if (auto s = o_.journal->Remove(table_); !s.ok()) {
    log::Error("cannot remove the restore journal",
               {{"table", table_}, {"error", std::string(s.message())}});
  }
  o_.metrics->Recovery(table_, trigger_, outcome, result_.duration_seconds());
  o_.metrics->Replay(table_, result_.replayed_operations(), result_.lost_operations());
  std::map<std::string, std::string> details = {
      {"trigger", result_.trigger()},
      {"backup_id", result_.backup_id()},
      {"records", absl::StrCat(result_.record_count())},
      {"seconds", absl::StrCat(result_.duration_seconds())},
      {"quarantine", result_.quarantine_path()},
      {"rejected_backups", absl::StrCat(result_.rejected_backups_size())},
      {"replayed_operations", absl::StrCat(result_.replayed_operations())},
      {"lost_operations", absl::StrCat(result_.lost_operations())}};
  if (result_.has_target_time()) {
    details["target_time"] = FormatProtoTime(result_.target_time());
    details["left_out_batches"] = absl::StrCat(result_.left_out_batches());
    details["left_out_operations"] = absl::StrCat(result_.left_out_operations());
  }
  if (result_.has_restored_to_time()) {
    details["restored_to_time"] = FormatProtoTime(result_.restored_to_time());
    details["restored_to_sequence"] = absl::StrCat(result_.restored_to_sequence());
  }
  if (result_.replay_problems_size() > 0) {
    details["replay_problems"] = absl::StrJoin(result_.replay_problems(), "; ");
  }
  for (const auto& [step, seconds] : result_.step_seconds()) {
    details[absl::StrCat("step_", step, "_seconds")] = absl::StrCat(seconds);
  }
  if (outcome == v1::RESTORE_OUTCOME_RESTORED) {
    o_.events->Add(
        "recovery_complete", table_,
        result_.backup_id().empty()
            ? absl::StrCat("restored ", table_, " from its write-ahead logs (no usable backup)")
            : absl::StrCat("restored ", table_, " from backup ", result_.backup_id()),
        details);
    return result_;
  }
  if (outcome == v1::RESTORE_OUTCOME_DEGRADED) {
    log::Critical("table restored EMPTY: no usable backup; its files are in quarantine",
                  {{"table", table_}, {"quarantine", result_.quarantine_path()}});
  }
  details["reason"] = reason;
  o_.events->Add("recovery_failed", table_, reason, details);
  return result_;
}

v1::RestoreResult Restorer::Run::Execute(const RestoreRequest& request) {
  const std::optional<v1::RestoreJournal>& resume = request.resume;
  // A restore resumed after maintenance was killed. Once the store has made
  // the installed table serve (only FinishRestore does that, after verifying
  // it), agents may have written to it: the restore is complete and must not
  // be redone. Before that point nothing was served, and redoing it from the
  // start is safe.
  if (resume.has_value()) {
    result_.set_quarantine_path(resume->quarantine_path());
    // Killed after putting the table back (PutBack) and before forgetting
    // the journal: the table, with the writes only its logs hold, is in its
    // place again, and that is what this restore must quarantine and
    // replay.
    if (!resume->quarantine_path().empty() && !o_.env->FileExists(resume->quarantine_path())) {
      log::Warn("the quarantine the restore journal names is gone (the table was put back)",
                {{"table", table_}, {"path", resume->quarantine_path()}});
      result_.clear_quarantine_path();
    }
    const RestoreStep step = resume->step();
    if ((step == v1::RESTORE_STEP_STARTING || step == v1::RESTORE_STEP_VERIFYING ||
         step == v1::RESTORE_STEP_SERVING || step == v1::RESTORE_STEP_STARTING_EMPTY) &&
        r_->Serving(table_)) {
      result_.set_backup_id(resume->backup_id());
      if (auto stats = o_.stores->GetTableStats(table_); stats.ok()) {
        result_.set_record_count(stats->records());
      }
      log::Info("an interrupted restore had already finished",
                {{"table", table_}, {"step", StepName(step)}});
      if (resume->backup_id().empty()) {
        return Finish(v1::RESTORE_OUTCOME_DEGRADED,
                      "no backup could be restored; the table restarted empty");
      }
      return Finish(v1::RESTORE_OUTCOME_RESTORED, "");
    }
  }

  o_.events->Add("recovery_started", table_,
                 absl::StrCat("restoring ", table_, " (", TriggerName(trigger_), ")"),
                 {{"trigger", TriggerName(trigger_)}});
  Journal(v1::RESTORE_STEP_STARTED, "");

  std::vector<std::string> rejected;
  const auto candidates = r_->Candidates(request, &rejected);
  for (const std::string& why : rejected) result_.add_rejected_backups(why);
  for (const auto& [id, manifest] : candidates) {
    const std::string path = storage::BackupPath(o_.topology->backup_dir(), table_, id);
    if (auto s = StopAndQuarantine(id); !s.ok()) {
      return Finish(v1::RESTORE_OUTCOME_FAILED, std::string(s.message()));
    }
    Journal(v1::RESTORE_STEP_INSTALLING, id);
    storage::RestoreExpectation expected;
    absl::Status installed = Timed("install", [&] { return Install(path, &expected); });
    if (absl::IsDataLoss(installed)) {  // the backup's own fault
      result_.add_rejected_backups(absl::StrCat(id, ": ", installed.message()));
      continue;
    }
    if (!installed.ok()) {
      (void)PutBack(id);
      return Finish(v1::RESTORE_OUTCOME_FAILED,
                    absl::StrCat("cannot install backup ", id, ": ", installed.message()));
    }
    absl::Status verified = StartAndVerify(id, expected, v1::RESTORE_STEP_STARTING);
    if (absl::IsDataLoss(verified) || absl::IsFailedPrecondition(verified)) {
      // The installed copy does not verify as the store opened it. It never
      // served an agent (it was RESTORING), so trying the next backup loses
      // nothing.
      result_.add_rejected_backups(absl::StrCat(id, ": ", verified.message()));
      continue;
    }
    if (!verified.ok()) {
      // Not the backup's fault (the store would not start, or could not be
      // asked): the table stays RESTORING and the restore is retried. The
      // installed table holds writes replayed from the logs of the table
      // first quarantined; the journal keeps that path for the retry, which
      // would otherwise quarantine the installed table and replay from it
      // (whose replayed writes are no longer in logs), losing them.
      return Finish(v1::RESTORE_OUTCOME_FAILED, std::string(verified.message()), true);
    }
    result_.set_backup_id(id);
    result_.set_size_bytes(BackupSize(manifest));
    return Finish(v1::RESTORE_OUTCOME_RESTORED, "");
  }
  if (target_.has_value()) {
    // An undo that cannot be done must not empty the table: it goes back as
    // it was before this restore (the first quarantine).
    const std::string why =
        absl::StrCat("no backup taken at or before ", Rfc3339(*target_), " could be restored",
                     result_.rejected_backups_size() > 0
                         ? absl::StrCat(" (", absl::StrJoin(result_.rejected_backups(), "; "), ")")
                         : "");
    const std::string original = result_.quarantine_path();
    if (auto s = PutBack(""); !s.ok()) {
      return Finish(v1::RESTORE_OUTCOME_FAILED,
                    absl::StrCat(why, "; putting the table back failed too (it is in ", original,
                                 "): ", s.message()));
    }
    return Finish(v1::RESTORE_OUTCOME_FAILED, absl::StrCat(why, "; the table is as it was"));
  }

  // R4: no backup left. Degraded mode: the table restarts empty, verified
  // empty before it serves like any restored table.
  Journal(v1::RESTORE_STEP_DEGRADING, "");
  if (auto s = StopAndQuarantine(""); !s.ok()) {
    return Finish(v1::RESTORE_OUTCOME_FAILED, std::string(s.message()));
  }
  const std::string why = result_.rejected_backups_size() == 0
                              ? "no backup of the table exists"
                              : absl::StrCat("no backup could be restored (",
                                             absl::StrJoin(result_.rejected_backups(), "; "), ")");
  storage::RestoreExpectation empty;
  if (auto s = Install("", &empty); !s.ok()) {
    (void)PutBack("");
    return Finish(v1::RESTORE_OUTCOME_FAILED,
                  absl::StrCat(why, "; restarting empty failed too: ", s.message()));
  }
  if (auto s = StartAndVerify("", empty, v1::RESTORE_STEP_STARTING_EMPTY); !s.ok()) {
    return Finish(v1::RESTORE_OUTCOME_FAILED,
                  absl::StrCat(why, "; restarting empty failed too: ", s.message()), true);
  }
  if (from_logs_) {  // the logs held the whole history: nothing lost
    return Finish(v1::RESTORE_OUTCOME_RESTORED, "");
  }
  return Finish(v1::RESTORE_OUTCOME_DEGRADED, absl::StrCat(why, "; the table restarted empty"));
}

v1::RestoreResult Restorer::Restore(const RestoreRequest& request) {
  RestoreRequest r = request;
  // A journal left by an attempt that installed the table but could not
  // start it: this attempt resumes it (same first quarantine, so the same
  // logs are replayed), whoever asked for it.
  if (!r.resume.has_value()) {
    for (v1::RestoreJournal& journal : options_.journal->LoadAll()) {
      if (journal.table() != r.table) continue;
      log::Warn("resuming the restore an earlier attempt left unfinished",
                {{"table", r.table}, {"step", StepName(journal.step())}});
      if (!r.records_at_corruption.has_value() && journal.has_records_at_corruption()) {
        r.records_at_corruption = journal.records_at_corruption();
      }
      r.resume = std::move(journal);
      break;
    }
  }
  if (r.resume.has_value() && r.resume->has_target_time() && !r.target_time.has_value()) {
    r.target_time = server::FromProtoTime(r.resume->target_time());
  }
  const std::string fetched = FetchIfNoLocalBackups(r.table);
  v1::RestoreResult result = Run(this, r).Execute(r);
  if (!fetched.empty()) result.set_fetched_from(fetched);
  return result;
}

std::string Restorer::FetchIfNoLocalBackups(const std::string& table) const {
  if (options_.remote == nullptr) return "";
  absl::StatusOr<std::vector<std::string>> local =
      storage::ListBackups(options_.topology->backup_dir(), table);
  if (local.ok() && !local->empty()) return "";
  const std::string where = options_.remote->Describe();
  absl::StatusOr<RemoteMirror::FetchReport> fetched = options_.remote->Fetch(table);
  if (!fetched.ok()) {
    options_.events->Add(
        "backups_fetch_failed", table,
        absl::StrCat("the local backup directory has no backup of ", table,
                     " and the remote copies could not be listed: ", fetched.status().message()),
        {{"destination", where}});
    return "";
  }
  options_.events->Add("backups_fetched", table,
                       absl::StrCat("the local backup directory had no backup of ", table,
                                    "; fetched ", fetched->backups, " backups and ", fetched->logs,
                                    " write-ahead logs from ", where),
                       {{"destination", where},
                        {"backups", absl::StrCat(fetched->backups)},
                        {"pool_files", absl::StrCat(fetched->pool_files)},
                        {"logs", absl::StrCat(fetched->logs)},
                        {"bytes", absl::StrCat(fetched->bytes)},
                        {"problems", absl::StrJoin(fetched->problems, "; ")}});
  return fetched->backups > 0 ? where : "";
}

std::vector<std::pair<std::string, common::v1::BackupManifest>> Restorer::Candidates(
    const RestoreRequest& request, std::vector<std::string>* rejected) const {
  std::vector<std::string> ids;
  if (!request.backup_id.empty()) {
    ids.push_back(request.backup_id);
  } else if (auto listed = storage::ListBackups(options_.topology->backup_dir(), request.table);
             listed.ok()) {
    ids.assign(listed->rbegin(), listed->rend());
  }
  std::vector<std::pair<std::string, common::v1::BackupManifest>> candidates;
  for (const std::string& id : ids) {
    // R1: a backup that verifies. Its files are all there here; the install
    // checks every file's SHA-256 as it copies (taking a damaged pool file
    // from the damaged table when that has an identical copy), and the store
    // reads every record back before serving; a failure at either tries the
    // next backup.
    auto manifest = storage::VerifyBackup(
        storage::BackupPath(options_.topology->backup_dir(), request.table, id), options_.env,
        storage::BackupCheck::kListing);
    if (!manifest.ok()) {
      rejected->push_back(absl::StrCat(id, ": ", manifest.status().message()));
      continue;
    }
    if (request.target_time.has_value()) {
      const std::optional<absl::Time> taken = storage::BackupTime(*manifest);
      if (!taken.has_value() || *taken > *request.target_time) continue;
    }
    candidates.emplace_back(id, *std::move(manifest));
  }
  return candidates;
}

absl::Status Restorer::CheckTarget(const RestoreRequest& request) const {
  if (!request.target_time.has_value()) return absl::OkStatus();
  FetchIfNoLocalBackups(request.table);
  if (!request.backup_id.empty()) {
    return absl::InvalidArgumentError(
        "give a backup id or a target time, not both: a point-in-time restore chooses its "
        "backup");
  }
  if (*request.target_time > options_.clock->Now()) {
    return absl::FailedPreconditionError(
        absl::StrCat("target time ", Rfc3339(*request.target_time), " is in the future"));
  }
  std::vector<std::string> rejected;
  if (Candidates(request, &rejected).empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "table ", request.table, ": no backup was taken at or before ",
        Rfc3339(*request.target_time), ", so the table cannot be restored to that time",
        rejected.empty() ? "" : absl::StrCat(" (", absl::StrJoin(rejected, "; "), ")")));
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::RestoreResult> Restorer::Preview(const RestoreRequest& request) {
  v1::RestoreResult result;
  result.set_table(request.table);
  result.set_dry_run(true);
  result.set_trigger(TriggerName(request.trigger));
  if (request.target_time.has_value()) {
    *result.mutable_target_time() = server::ToProtoTime(*request.target_time);
  }
  if (std::string from = FetchIfNoLocalBackups(request.table); !from.empty()) {
    result.set_fetched_from(from);
  }
  std::vector<std::string> rejected;
  TableInstaller installer(
      {.topology = options_.topology, .clock = options_.clock, .env = options_.env});
  const std::string live = absl::StrCat(options_.topology->data_dir(), "/", request.table);
  const absl::Time start = options_.clock->Now();
  for (const auto& [id, manifest] : Candidates(request, &rejected)) {
    absl::StatusOr<TableInstaller::Installed> built = installer.Preview(
        request.table, storage::BackupPath(options_.topology->backup_dir(), request.table, id),
        live, request.target_time);
    if (absl::IsDataLoss(built.status())) {
      rejected.push_back(absl::StrCat(id, ": ", built.status().message()));
      continue;
    }
    if (!built.ok()) return built.status();
    result.set_outcome(v1::RESTORE_OUTCOME_RESTORED);
    result.set_backup_id(id);
    result.set_record_count(built->expected.record_count.value_or(0));
    result.set_size_bytes(BackupSize(manifest));
    RecordInstalled(*built, &result);
    for (const std::string& why : rejected) result.add_rejected_backups(why);
    result.set_duration_seconds(absl::ToDoubleSeconds(options_.clock->Now() - start));
    return result;
  }
  return absl::FailedPreconditionError(
      absl::StrCat("table ", request.table, ": no backup",
                   request.target_time.has_value()
                       ? absl::StrCat(" taken at or before ", Rfc3339(*request.target_time))
                       : "",
                   " could be restored",
                   rejected.empty() ? "" : absl::StrCat(" (", absl::StrJoin(rejected, "; "), ")")));
}

bool Restorer::Serving(const std::string& table) {
  auto stats = options_.stores->GetTableStats(table);
  return stats.ok() && (stats->state() == common::v1::TABLE_STATE_OK ||
                        stats->state() == common::v1::TABLE_STATE_DEGRADED);
}

}  // namespace agentcom::maintenance
