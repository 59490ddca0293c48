// The maintenance core's rules (issue 4) on a manual clock, with a fake
// supervisor and fake store processes that own real tables on real files:
// "stopping" a store closes its tables, "starting" it opens them again.
#include "services/maintenance/maintenance.h"

#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/files/files.h"
#include "common/remote/directory_destination.h"
#include "common/server/api_checks.h"
#include "common/storage/backup.h"
#include "common/storage/file_backup.h"
#include "common/storage/wal.h"
#include "common/storage/wal_archive.h"
#include "common/storage/wal_shipper.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "leveldb/env.h"
#include "services/maintenance/remote_mirror.h"
#include "services/maintenance/scheduler.h"
#include "tests/support/fake_processes.h"
#include "tests/support/faulty_env.h"
#include "tests/support/test_support.h"

namespace agentcom::maintenance {
namespace {

using testing::FakeProcesses;

using ::testing::ElementsAre;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

class MaintenanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    topology_ = testing::MakeTopology(
        dir_.path(), {{"mailbox", {"agent_mailbox"}}, {"config", {"agentcom_config"}}});
    processes_ = std::make_unique<FakeProcesses>(topology_);
    NewCore();
  }
  void NewCore() {
    core_.reset();
    events_ = std::make_unique<EventLog>(topology_.state_dir() + "/events.jsonl", &clock_);
    ASSERT_TRUE(events_->Load().ok());
    core_ =
        std::make_unique<MaintenanceCore>(MaintenanceCore::Options{.topology = topology_,
                                                                   .clock = &clock_,
                                                                   .env = &env_,
                                                                   .supervisor = processes_.get(),
                                                                   .stores = processes_.get(),
                                                                   .events = events_.get(),
                                                                   .metrics = &registry_,
                                                                   .remote = remote_.get()});
    ASSERT_TRUE(core_->Start().ok());
  }
  storage::Table* Mailbox() { return *processes_->Find("agent_mailbox"); }
  // The tables' commit times (and backup times) from clock_, as
  // maintenance's, for point-in-time restores.
  void StampCommitsWithTheManualClock() {
    core_.reset();
    processes_.reset();
    processes_ = std::make_unique<FakeProcesses>(topology_, &clock_);
    NewCore();
  }
  // Waits (for another thread, not for time) until some thread begins to
  // wait on the manual clock after `blocks` waits had begun, or `done`.
  // Returns false when `done` came first.
  bool WaitForClockWaiter(uint64_t blocks, absl::Notification* done = nullptr) {
    while (clock_.blocks() <= blocks) {
      if (done != nullptr && done->HasBeenNotified()) return false;
      absl::SleepFor(absl::Milliseconds(1));
    }
    return done == nullptr || !done->HasBeenNotified();
  }
  void Fill(int n, int gen = 0) {
    for (int i = 0; i < n; i += 100) {
      storage::TableBatch b;
      for (int j = i; j < i + 100 && j < n; ++j) {
        b.Put(absl::StrCat("k", 100000 + j), absl::StrCat(std::string(150, 'v'), gen));
      }
      ASSERT_TRUE(Mailbox()->Write(b).ok());
    }
  }
  // Fills the mailbox so that its logs no longer reach back to its first
  // write (as once retention removed logs a backup held): with no usable
  // backup, a restore can then only restart it empty.
  void FillWithoutLogsFromTheStart(int n) {
    Fill(n);
    ASSERT_TRUE(Mailbox()->Compact().ok());  // the first log goes into the archive
    fs::remove_all(topology_.data_dir() + "/agent_mailbox/" + storage::kWalArchiveDir);
  }
  std::string Backup() {
    clock_.Advance(absl::Seconds(1));
    auto r = core_->BackupTable("agent_mailbox", v1::TRIGGER_MANUAL);
    EXPECT_TRUE(r.ok() && r->results(0).ok()) << (r.ok() ? r->results(0).error() : "");
    return r.ok() ? r->results(0).backup_id() : "";
  }
  std::vector<std::string> Backups() {
    return *storage::ListBackups(topology_.backup_dir(), "agent_mailbox");
  }
  // The series of `family` for `table` in the core's registry, or nullptr.
  const prometheus::ClientMetric* FindMetric(const std::string& family, const std::string& table) {
    metrics_ = registry_.Collect();
    for (const auto& f : metrics_) {
      if (f.name != family) continue;
      for (const auto& m : f.metric) {
        for (const auto& label : m.label) {
          if (label.name == "table" && label.value == table) return &m;
        }
      }
    }
    return nullptr;
  }
  std::vector<std::string> EventTypes() {
    std::vector<std::string> types;
    for (const auto& e : events_->After(0, 1000)) types.push_back(e.type());
    return types;
  }
  void CorruptLiveMailbox() {
    ASSERT_TRUE(Mailbox()->Compact().ok());
    ASSERT_TRUE(processes_->Stop("mailbox").ok());
    testing::FlipBytesInLargestTableFile(topology_.data_dir() + "/agent_mailbox");
    ASSERT_TRUE(processes_->Start("mailbox").ok());
    EXPECT_EQ(Mailbox()->Verify().status().code(), absl::StatusCode::kDataLoss);
  }

  testing::TempDir dir_;
  config::Topology topology_;
  ManualClock clock_;
  testing::FaultyEnv env_;
  prometheus::Registry registry_;
  std::vector<prometheus::MetricFamily> metrics_;
  std::unique_ptr<FakeProcesses> processes_;
  std::unique_ptr<EventLog> events_;
  std::unique_ptr<remote::DirectoryDestination> remote_;
  std::unique_ptr<MaintenanceCore> core_;
};

TEST_F(MaintenanceTest, SchedulerRunsBackupsAndCompactionOnTheirIntervals) {
  Scheduler scheduler(core_.get(), &clock_, absl::Hours(24), absl::Hours(6), absl::Minutes(5),
                      absl::Hours(48));
  EXPECT_TRUE(scheduler.RunDue().empty());
  clock_.Advance(absl::Minutes(5));
  EXPECT_THAT(scheduler.RunDue(), ElementsAre("backup", "compaction"));
  EXPECT_EQ(Backups().size(), 1u);
  clock_.Advance(absl::Hours(6) - absl::Seconds(1));
  EXPECT_TRUE(scheduler.RunDue().empty());
  clock_.Advance(absl::Seconds(1));
  EXPECT_THAT(scheduler.RunDue(), ElementsAre("compaction"));
  clock_.Advance(absl::Hours(18));
  EXPECT_THAT(scheduler.RunDue(), ElementsAre("backup", "compaction"));
  EXPECT_EQ(core_->CompactionHistory().runs(0).trigger(), "scheduled");
  // The scrub, 48 h after start, checks every pool file.
  clock_.Advance(absl::Hours(48) - absl::Hours(24) - absl::Minutes(5));
  EXPECT_THAT(scheduler.RunDue(), ::testing::Contains("scrub"));
  EXPECT_EQ(EventTypes().back(), "scrub_complete");
}

TEST_F(MaintenanceTest, CompactionSkipsBelowThresholdUnlessForced) {
  Fill(3000);
  ASSERT_TRUE(Mailbox()->Compact().ok());
  v1::CompactionRun run = core_->CompactAll(false, v1::TRIGGER_SCHEDULED);
  EXPECT_EQ(run.tables_total(), 2u);
  EXPECT_EQ(run.skipped(), 2u);
  EXPECT_EQ(run.results(0).reason(), "below_threshold");
  Fill(3000, 1);
  Fill(3000, 2);
  run = core_->CompactAll(false, v1::TRIGGER_SCHEDULED);
  ASSERT_EQ(run.results(0).table(), "agent_mailbox");
  EXPECT_EQ(run.results(0).outcome(), v1::COMPACTION_OUTCOME_COMPACTED);
  EXPECT_GT(run.results(0).fragmentation_before(), 0.1);
  EXPECT_LT(run.results(0).fragmentation_after(), 0.05);
  EXPECT_EQ(run.results(1).outcome(), v1::COMPACTION_OUTCOME_SKIPPED);
  run = core_->CompactAll(true, v1::TRIGGER_MANUAL);
  EXPECT_EQ(run.compacted(), 2u);
}

TEST_F(MaintenanceTest, AFailedCompactionIsRetriedOnce) {
  {
    absl::MutexLock l(&processes_->mu_);
    processes_->compact_failures = 1;
  }
  auto run = core_->CompactTable("agent_mailbox");
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->results(0).outcome(), v1::COMPACTION_OUTCOME_COMPACTED);
  EXPECT_TRUE(run->results(0).retried());
  {
    absl::MutexLock l(&processes_->mu_);
    processes_->compact_failures = 2;
    processes_->compact_calls = 0;
  }
  run = core_->CompactTable("agent_mailbox");
  EXPECT_EQ(run->results(0).outcome(), v1::COMPACTION_OUTCOME_ERROR);
  EXPECT_TRUE(run->results(0).retried());
  {
    absl::MutexLock l(&processes_->mu_);
    EXPECT_EQ(processes_->compact_calls, 2);  // once, and once more; not a third time
  }
  EXPECT_EQ(EventTypes().back(), "compaction_failed");
}

TEST_F(MaintenanceTest, HistoryKeepsTwentyRunsAcrossARestart) {
  for (int i = 0; i < 25; ++i) core_->CompactAll(false, v1::TRIGGER_SCHEDULED);
  EXPECT_EQ(core_->CompactionHistory().runs_size(), 20);
  NewCore();
  EXPECT_EQ(core_->CompactionHistory().runs_size(), 20);
  EXPECT_EQ(core_->CompactionHistory().runs(0).tables_total(), 2u);
}

TEST_F(MaintenanceTest, RetentionKeepsTheNewestVerifiedAndCleansPartials) {
  topology_.mutable_maintenance()->set_backup_retention(3);
  NewCore();
  Fill(100);
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(Backup());
  EXPECT_THAT(Backups(), ElementsAre(ids[2], ids[3], ids[4]));

  // A partial backup from a crashed snapshot is removed once it is stale.
  const fs::path partial =
      fs::path(topology_.backup_dir()) / "agent_mailbox" / ".tmp-20200101T000000.000000Z";
  fs::create_directories(partial);
  fs::last_write_time(partial, fs::file_time_type::clock::now() - std::chrono::hours(1));
  // The two newest backups are damaged: the newest verified one must stay.
  for (const std::string& id : {ids[3], ids[4]}) {
    testing::DamageBackup(topology_.backup_dir(), "agent_mailbox", id);
  }
  NewCore();  // forget what was verified, as after a restart
  const std::string newest = Backup();
  EXPECT_FALSE(fs::exists(partial));
  // Kept: the new one, and ids[2], the newest that still verifies; the
  // damaged ones newer than it stay for inspection.
  EXPECT_THAT(Backups(), ElementsAre(ids[2], ids[3], ids[4], newest));
}

// B2, B6: one table's failure does not stop the others, and a table whose
// store is down is reported as such.
TEST_F(MaintenanceTest, ABackupOfATableWhoseStoreIsDownIsReportedAsSuch) {
  auto r = core_->BackupTable("no_such_table", v1::TRIGGER_MANUAL);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(processes_->Stop("mailbox").ok());
  v1::BackupRun run = core_->BackupAll(v1::TRIGGER_MANUAL);
  EXPECT_EQ(run.failed(), 1u);
  EXPECT_EQ(run.succeeded(), 1u);
  for (const auto& res : run.results()) {
    if (res.table() == "agent_mailbox") {
      EXPECT_THAT(res.error(), HasSubstr("is down"));  // B6
    }
  }
  EXPECT_THAT(EventTypes(), ElementsAre("backup_failed", "backup_complete"));
}

// A backup whose files do not read back as written (here bytes flipped as
// the store wrote them) is removed, never listed or restored from, and
// reported: backup_failed, the failure metric, the table's last result.
TEST_F(MaintenanceTest, ABackupFailingVerificationIsRemovedAndReported) {
  Fill(300);
  const std::string good = Backup();
  processes_->damage_snapshots = true;
  clock_.Advance(absl::Seconds(1));
  auto run = core_->BackupTable("agent_mailbox", v1::TRIGGER_MANUAL);
  processes_->damage_snapshots = false;
  ASSERT_TRUE(run.ok());
  ASSERT_EQ(run->results_size(), 1);
  const v1::BackupResult& r = run->results(0);
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.error(), HasSubstr("failed verification and was removed"));
  EXPECT_THAT(r.error(), HasSubstr("does not match its checksum"));
  EXPECT_EQ(run->failed(), 1u);
  EXPECT_THAT(Backups(), ElementsAre(good));  // the damaged one is gone
  std::vector<std::string> dirs;
  for (const auto& e : fs::directory_iterator(topology_.backup_dir() + "/agent_mailbox")) {
    dirs.push_back(e.path().filename());
  }
  EXPECT_THAT(dirs, ::testing::UnorderedElementsAre(good, storage::kPoolDir));
  EXPECT_EQ(EventTypes().back(), "backup_failed");
  EXPECT_EQ(core_->GetHealth().tables(0).last_backup_result(), r.error());
  auto* failures = FindMetric("agentcom_backup_failures_total", "agent_mailbox");
  ASSERT_NE(failures, nullptr);
  EXPECT_EQ(failures->counter.value, 1);
}

// Issue 14: the older backup plus the write-ahead logs after it bring back
// everything the table held, although the newest backup is damaged.
TEST_F(MaintenanceTest, RestoreFallsBackToAnOlderBackupWhenTheNewestFailsVerification) {
  Fill(500);
  const std::string older = Backup();
  Fill(600, 1);
  const std::string newer = Backup();
  testing::DamageBackup(topology_.backup_dir(), "agent_mailbox", newer);
  const storage::VerifyResult before = *Mailbox()->Verify();
  CorruptLiveMailbox();
  auto result = core_->RestoreTable("agent_mailbox", "", v1::TRIGGER_MANUAL);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->outcome(), v1::RESTORE_OUTCOME_RESTORED) << result->reason();
  EXPECT_EQ(result->backup_id(), older);
  EXPECT_EQ(result->record_count(), 600u);
  EXPECT_GT(result->replayed_operations(), 600u);
  EXPECT_EQ(result->lost_operations(), 0u);
  EXPECT_THAT(result->replay_problems(), ::testing::IsEmpty());
  ASSERT_EQ(result->rejected_backups_size(), 1);
  EXPECT_THAT(result->rejected_backups(0), HasSubstr(newer));
  auto after = Mailbox()->Verify();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->content_hash, before.content_hash);
  EXPECT_EQ(Mailbox()->Stats().records(), 600u);
  EXPECT_TRUE(fs::exists(result->quarantine_path()));
  EXPECT_THAT(processes_->calls(), ::testing::IsSupersetOf({"stop mailbox", "start mailbox"}));
  EXPECT_EQ(EventTypes().back(), "recovery_complete");
}

// Issue 14: writes after the backup, over several logs (some retired into
// the archive), with overwrites and deletes: an automatic restore brings the
// table back exactly as it was, and twice in a row (the restore takes a new
// backup, the base for the next one).
TEST_F(MaintenanceTest, AnAutomaticRestoreLosesNoAcknowledgedWrite) {
  Fill(300);
  Backup();
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round);
    for (int gen = 1; gen <= 4; ++gen) {
      Fill(1000 + 250 * gen, gen + 10 * round);
      ASSERT_TRUE(Mailbox()->Compact().ok());  // a new log; the old one is archived
    }
    ASSERT_TRUE(Mailbox()->Delete(absl::StrCat("k", 100007)).ok());
    ASSERT_TRUE(Mailbox()->Put("newest", absl::StrCat("round", round)).ok());  // live log only
    const storage::VerifyResult before = *Mailbox()->Verify();
    const uint64_t records = Mailbox()->Stats().records();
    const size_t backups = Backups().size();
    CorruptLiveMailbox();
    ASSERT_TRUE(*core_->ReportCorruption("agent_mailbox", "Corruption: x", records));
    ASSERT_TRUE(core_->WaitRestoresIdle(absl::Seconds(60)));
    auto after = Mailbox()->Verify();
    ASSERT_TRUE(after.ok()) << after.status();
    EXPECT_EQ(after->record_count, before.record_count);
    EXPECT_EQ(after->content_hash, before.content_hash);
    EXPECT_EQ(**Mailbox()->Get("newest"), absl::StrCat("round", round));
    v1::Event complete = events_->After(0, 1000).back();
    ASSERT_EQ(complete.type(), "recovery_complete");
    EXPECT_EQ(complete.details().at("lost_operations"), "0");
    EXPECT_GT(std::stoi(complete.details().at("replayed_operations")), 1000);
    EXPECT_EQ(complete.details().count("replay_problems"), 0u);
    EXPECT_EQ(Backups().size(), backups + 1);      // the new base
    EXPECT_EQ(*Mailbox()->NextSequence(41), 42u);  // nothing lost: no jump
  }
  auto* lost = FindMetric("agentcom_restore_lost_operations_total", "agent_mailbox");
  ASSERT_NE(lost, nullptr);
  EXPECT_EQ(lost->counter.value, 0);
}

// Issue 16: an agent's mistake undone. 1,000 records written after the
// backup, then half of them deleted or overwritten; a dry run tells what a
// restore to the moment before would bring back without touching the
// table; the restore brings back exactly those 1,000 records; and the
// restore can itself be undone the same way.
TEST_F(MaintenanceTest, APointInTimeRestoreUndoesAMistakeAndCanItselfBeUndone) {
  StampCommitsWithTheManualClock();
  Fill(200);
  Backup();
  clock_.Advance(absl::Seconds(1));
  const absl::Time last_good_write = clock_.Now();
  Fill(1000, 1);
  ASSERT_TRUE(Mailbox()->Compact().ok());  // the logs retire into the archive
  clock_.Advance(absl::Seconds(1));
  const absl::Time noted = clock_.Now();
  const storage::VerifyResult at_noted = *Mailbox()->Verify();
  ASSERT_EQ(at_noted.record_count, 1000u);
  clock_.Advance(absl::Seconds(1));
  const absl::Time mistake = clock_.Now();
  storage::TableBatch deletes;
  for (int i = 250; i < 500; ++i) deletes.Delete(absl::StrCat("k", 100000 + i));
  ASSERT_TRUE(Mailbox()->Write(deletes).ok());
  Fill(250, 9);  // overwrites, in 3 batches
  const storage::VerifyResult after_mistake = *Mailbox()->Verify();
  ASSERT_EQ(after_mistake.record_count, 750u);
  const uint64_t issued = *Mailbox()->NextSequence(41);
  clock_.Advance(absl::Seconds(1));

  auto preview = core_->RestoreTable("agent_mailbox", "", v1::TRIGGER_MANUAL,
                                     {.time = noted, .dry_run = true});
  ASSERT_TRUE(preview.ok()) << preview.status();
  EXPECT_TRUE(preview->dry_run());
  EXPECT_EQ(preview->record_count(), 1000u);
  EXPECT_EQ(server::FromProtoTime(preview->restored_to_time()), last_good_write);
  EXPECT_EQ(preview->left_out_batches(), 4u);
  EXPECT_EQ(Mailbox()->Verify()->content_hash, after_mistake.content_hash);
  EXPECT_THAT(EventTypes(), ::testing::Not(::testing::Contains("recovery_started")));
  EXPECT_FALSE(fs::exists(topology_.data_dir() + "/.preview-agent_mailbox"));

  auto result = core_->RestoreTable("agent_mailbox", "", v1::TRIGGER_MANUAL, {.time = noted});
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->outcome(), v1::RESTORE_OUTCOME_RESTORED) << result->reason();
  EXPECT_EQ(result->record_count(), 1000u);
  EXPECT_EQ(result->lost_operations(), 0u);
  EXPECT_EQ(result->left_out_batches(), 4u);
  EXPECT_EQ(server::FromProtoTime(result->restored_to_time()), last_good_write);
  EXPECT_GT(result->restored_to_sequence(), 0u);
  const storage::VerifyResult restored = *Mailbox()->Verify();
  EXPECT_EQ(restored.record_count, at_noted.record_count);
  EXPECT_EQ(restored.content_hash, at_noted.content_hash);
  // Sequence numbers handed out for the writes left out are not reused.
  EXPECT_GT(*Mailbox()->NextSequence(41), issued);
  v1::Event complete = events_->After(0, 1000).back();
  ASSERT_EQ(complete.type(), "recovery_complete");
  EXPECT_EQ(complete.details().at("left_out_batches"), "4");
  EXPECT_EQ(complete.details().at("target_time"),
            absl::FormatTime(absl::RFC3339_full, noted, absl::UTCTimeZone()));
  ASSERT_TRUE(fs::exists(result->quarantine_path()));

  // Undone: back to just after the mistake, from the quarantined history.
  clock_.Advance(absl::Seconds(1));
  auto undo = core_->RestoreTable("agent_mailbox", "", v1::TRIGGER_MANUAL, {.time = mistake});
  ASSERT_TRUE(undo.ok()) << undo.status();
  ASSERT_EQ(undo->outcome(), v1::RESTORE_OUTCOME_RESTORED) << undo->reason();
  EXPECT_EQ(Mailbox()->Verify()->content_hash, after_mistake.content_hash);
  EXPECT_EQ(undo->record_count(), 750u);
}

TEST_F(MaintenanceTest, APointInTimeRestoreThatCannotBeDoneTouchesNothing) {
  StampCommitsWithTheManualClock();
  Fill(100);
  const absl::Time before_every_backup = clock_.Now();
  const std::string id = Backup();
  const storage::VerifyResult live = *Mailbox()->Verify();
  auto too_old =
      core_->RestoreTable("agent_mailbox", "", v1::TRIGGER_MANUAL, {.time = before_every_backup});
  EXPECT_EQ(too_old.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(too_old.status().message(), HasSubstr("no backup was taken at or before"));
  auto future = core_->RestoreTable("agent_mailbox", "", v1::TRIGGER_MANUAL,
                                    {.time = clock_.Now() + absl::Hours(1)});
  EXPECT_EQ(future.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(future.status().message(), HasSubstr("in the future"));
  auto both = core_->RestoreTable("agent_mailbox", id, v1::TRIGGER_MANUAL, {.time = clock_.Now()});
  EXPECT_EQ(both.status().code(), absl::StatusCode::kInvalidArgument);
  auto dry = core_->RestoreTable("agent_mailbox", "", v1::TRIGGER_MANUAL,
                                 {.time = before_every_backup, .dry_run = true});
  EXPECT_EQ(dry.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Mailbox()->Verify()->content_hash, live.content_hash);
  EXPECT_THAT(processes_->calls(), ::testing::Not(::testing::Contains("stop mailbox")));
  EXPECT_TRUE(EventTypes().empty() || EventTypes().back() == "backup_complete");
}

// A point-in-time restore whose every backup fails to install (here a
// damaged pool file the live table no longer has a copy of) puts the table
// back as it was: an undo that cannot be done must not empty the table.
TEST_F(MaintenanceTest, APointInTimeRestoreWhoseBackupsAllFailPutsTheTableBack) {
  StampCommitsWithTheManualClock();
  Fill(300);
  ASSERT_TRUE(Mailbox()->Compact().ok());  // table files, for the pool
  const std::string id = Backup();
  clock_.Advance(absl::Seconds(1));
  const absl::Time target = clock_.Now();
  Fill(300, 1);
  ASSERT_TRUE(Mailbox()->Compact().ok());  // the backed-up files leave the table
  const storage::VerifyResult live = *Mailbox()->Verify();
  const std::string pooled =
      testing::LargestBackupTableFile(topology_.backup_dir(), "agent_mailbox", id);
  testing::FlipBytes(pooled, fs::file_size(pooled) / 2, 8);
  clock_.Advance(absl::Seconds(1));

  auto result = core_->RestoreTable("agent_mailbox", "", v1::TRIGGER_MANUAL, {.time = target});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->outcome(), v1::RESTORE_OUTCOME_FAILED);
  EXPECT_THAT(result->reason(), HasSubstr("the table is as it was"));
  ASSERT_EQ(result->rejected_backups_size(), 1);
  EXPECT_THAT(result->rejected_backups(0), HasSubstr(id));
  EXPECT_EQ(result->quarantine_path(), "");  // put back
  EXPECT_EQ(Mailbox()->state(), common::v1::TABLE_STATE_OK);
  EXPECT_EQ(Mailbox()->Verify()->content_hash, live.content_hash);
  const std::string quarantine = topology_.data_dir() + "/quarantine";
  EXPECT_TRUE(!fs::exists(quarantine) || fs::is_empty(quarantine));
  EXPECT_FALSE(fs::exists(topology_.state_dir() + "/restore-journal/agent_mailbox.json"));
  EXPECT_EQ(EventTypes().back(), "recovery_failed");
}

// A damaged archived log: the restore replays everything else and says
// exactly how many operations it could not bring back.
TEST_F(MaintenanceTest, ADamagedArchivedLogIsReportedAsExactlyTheOperationsLost) {
  Fill(300);
  const std::string id = Backup();
  for (int gen = 1; gen <= 3; ++gen) {
    Fill(500, gen);
    ASSERT_TRUE(Mailbox()->Compact().ok());
  }
  const uint64_t records = Mailbox()->Stats().records();
  const auto manifest =
      *storage::ReadManifest(storage::BackupPath(topology_.backup_dir(), "agent_mailbox", id));
  const std::string table_dir = topology_.data_dir() + "/agent_mailbox";
  std::vector<storage::WalLog> logs =
      storage::ListWalLogs(leveldb::Env::Default(), table_dir, manifest.first_log_number());
  ASSERT_GE(logs.size(), 3u);
  const storage::WalLog victim = logs[1];
  ASSERT_THAT(victim.path, HasSubstr("/wal-archive/"));
  uint64_t ops = 0;
  const auto victim_log = storage::ReadWalFile(leveldb::Env::Default(), victim.path);
  ASSERT_TRUE(victim_log.ok());
  for (const auto& b : victim_log->batches) ops += b.ops.size();
  ASSERT_GT(ops, 0u);
  testing::FlipBytes(victim.path, 20, 1);
  // The reader skips to the next 32 KiB block, as LevelDB's does: the
  // batches in the damaged block are lost, those after it are read.
  uint64_t readable = 0;
  const auto damaged_log = storage::ReadWalFile(leveldb::Env::Default(), victim.path);
  ASSERT_TRUE(damaged_log.ok());
  for (const auto& b : damaged_log->batches) readable += b.ops.size();
  ASSERT_LT(readable, ops);
  ops -= readable;
  const uint64_t issued = *Mailbox()->NextSequence(41);
  CorruptLiveMailbox();
  ASSERT_TRUE(*core_->ReportCorruption("agent_mailbox", "Corruption: x", records));
  ASSERT_TRUE(core_->WaitRestoresIdle(absl::Seconds(60)));
  v1::Event complete = events_->After(0, 1000).back();
  ASSERT_EQ(complete.type(), "recovery_complete");
  EXPECT_EQ(complete.details().at("lost_operations"), absl::StrCat(ops));
  EXPECT_THAT(complete.details().at("replay_problems"),
              HasSubstr(absl::StrCat("log ", victim.number, " is damaged")));
  auto* lost = FindMetric("agentcom_restore_lost_operations_total", "agent_mailbox");
  ASSERT_NE(lost, nullptr);
  EXPECT_EQ(lost->counter.value, static_cast<double>(ops));
  // The table serves what could be brought back, and issues no sequence
  // number it issued before.
  EXPECT_TRUE(Mailbox()->Verify().ok());
  EXPECT_GT(*Mailbox()->NextSequence(41), issued);
}

// The same damage with the logs shipped to the backup directory: the
// shipped copy of the damaged log is replayed and nothing is lost.
TEST_F(MaintenanceTest, ADamagedArchivedLogIsReplayedFromItsShippedCopy) {
  Fill(300);
  Backup();
  for (int gen = 1; gen <= 3; ++gen) {
    Fill(500, gen);
    ASSERT_TRUE(Mailbox()->Compact().ok());
  }
  const std::string table_dir = topology_.data_dir() + "/agent_mailbox";
  storage::WalShipper shipper(leveldb::Env::Default(), &clock_, table_dir,
                              storage::ShippedWalRoot(topology_.backup_dir(), "agent_mailbox"));
  ASSERT_TRUE(shipper.ShipOnce().ok());
  const storage::VerifyResult before = *Mailbox()->Verify();
  const uint64_t records = Mailbox()->Stats().records();
  const storage::WalLog victim = storage::ListWalLogs(leveldb::Env::Default(), table_dir, 0)[1];
  ASSERT_THAT(victim.path, HasSubstr("/wal-archive/"));
  testing::FlipBytes(victim.path, 20, 1);
  CorruptLiveMailbox();
  ASSERT_TRUE(*core_->ReportCorruption("agent_mailbox", "Corruption: x", records));
  ASSERT_TRUE(core_->WaitRestoresIdle(absl::Seconds(60)));
  v1::Event complete = events_->After(0, 1000).back();
  ASSERT_EQ(complete.type(), "recovery_complete");
  EXPECT_EQ(complete.details().at("lost_operations"), "0");
  EXPECT_THAT(complete.details().at("replay_problems"),
              HasSubstr(absl::StrCat("log ", victim.number,
                                     ": the table's copy is damaged; the shipped copy")));
  auto after = Mailbox()->Verify();
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->content_hash, before.content_hash);
}

// Retention deletes shipped logs no retained backup needs, and the shipped
// logs of an earlier history once no retained backup is of it.
TEST_F(MaintenanceTest, RetentionPrunesShippedLogsNoBackupNeeds) {
  topology_.mutable_maintenance()->set_backup_retention(1);
  NewCore();
  const std::string table_dir = topology_.data_dir() + "/agent_mailbox";
  const std::string root = storage::ShippedWalRoot(topology_.backup_dir(), "agent_mailbox");
  storage::WalShipper shipper(leveldb::Env::Default(), &clock_, table_dir, root);
  const std::string earlier = absl::StrCat(root, "/0123456789abcdef");
  fs::create_directories(earlier);
  std::ofstream(earlier + "/000007.log") << "an earlier history";
  for (int gen = 0; gen < 3; ++gen) {
    Fill(300, gen);
    ASSERT_TRUE(Mailbox()->Compact().ok());
  }
  ASSERT_TRUE(shipper.ShipOnce().ok());
  const std::string generation = *files::ReadFile(
      leveldb::Env::Default(), absl::StrCat(table_dir, "/", storage::kGenerationFile));
  const std::string shipped =
      storage::ShippedWalDir(topology_.backup_dir(), "agent_mailbox", generation);
  const size_t shipped_before = storage::ListWalLogs(leveldb::Env::Default(), shipped, 0).size();
  ASSERT_GE(shipped_before, 3u);
  const std::string id = Backup();
  const auto manifest =
      *storage::ReadManifest(storage::BackupPath(topology_.backup_dir(), "agent_mailbox", id));
  const std::vector<storage::WalLog> left =
      storage::ListWalLogs(leveldb::Env::Default(), shipped, 0);
  ASSERT_FALSE(left.empty());
  EXPECT_LT(left.size(), shipped_before);
  EXPECT_GE(left.front().number, manifest.first_log_number());
  EXPECT_FALSE(fs::exists(earlier));
  EXPECT_TRUE(fs::exists(shipped));
}

// A table younger than its first backup: its logs hold its whole history,
// and the restore rebuilds it from them, losing nothing.
TEST_F(MaintenanceTest, WithNoBackupTheLogsRebuildTheWholeTable) {
  Fill(500);
  ASSERT_TRUE(Mailbox()->Compact().ok());  // a retired, archived log
  Fill(800, 1);
  ASSERT_TRUE(Mailbox()->Delete(absl::StrCat("k", 100003)).ok());
  const storage::VerifyResult before = *Mailbox()->Verify();
  const uint64_t records = Mailbox()->Stats().records();
  CorruptLiveMailbox();
  ASSERT_TRUE(*core_->ReportCorruption("agent_mailbox", "Corruption: x", records));
  ASSERT_TRUE(core_->WaitRestoresIdle(absl::Seconds(60)));
  v1::Event complete = events_->After(0, 1000).back();
  ASSERT_EQ(complete.type(), "recovery_complete");
  EXPECT_THAT(complete.message(), HasSubstr("from its write-ahead logs"));
  EXPECT_EQ(complete.details().at("lost_operations"), "0");
  EXPECT_EQ(Mailbox()->state(), common::v1::TABLE_STATE_OK);
  auto after = Mailbox()->Verify();
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->record_count, before.record_count);
  EXPECT_EQ(after->content_hash, before.content_hash);
  EXPECT_EQ(*Mailbox()->NextSequence(41), 42u);  // nothing lost: no jump
}

TEST_F(MaintenanceTest, WithNoUsableBackupTheTableIsDegradedAndKeptInQuarantine) {
  FillWithoutLogsFromTheStart(500);
  CorruptLiveMailbox();
  auto result = core_->RestoreTable("agent_mailbox", "", v1::TRIGGER_MANUAL);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->outcome(), v1::RESTORE_OUTCOME_DEGRADED);
  EXPECT_THAT(result->reason(), HasSubstr("no backup of the table exists"));
  EXPECT_EQ(Mailbox()->state(), common::v1::TABLE_STATE_DEGRADED);
  EXPECT_EQ(Mailbox()->Stats().records(), 0u);
  EXPECT_TRUE(Mailbox()->Put("new", "data").ok());  // serving
  bool has_ldb = false;
  for (const auto& f : fs::directory_iterator(result->quarantine_path())) {
    has_ldb |= f.path().extension() == ".ldb";
  }
  EXPECT_TRUE(has_ldb);
  EXPECT_EQ(EventTypes().back(), "recovery_failed");
}

TEST_F(MaintenanceTest, DuplicateReportsCollapseIntoOneRestore) {
  Fill(200);
  Backup();
  CorruptLiveMailbox();
  int started = 0;
  for (int i = 0; i < 5; ++i) started += *core_->ReportCorruption("agent_mailbox", "Corruption: x");
  EXPECT_EQ(started, 1);
  ASSERT_TRUE(core_->WaitRestoresIdle(absl::Seconds(30)));
  int completes = 0;
  for (const auto& t : EventTypes()) completes += t == "recovery_complete";
  EXPECT_EQ(completes, 1);
  EXPECT_TRUE(Mailbox()->Verify().ok());
  // Once done, a new report starts a new restore.
  EXPECT_TRUE(*core_->ReportCorruption("agent_mailbox", "Corruption: again"));
  ASSERT_TRUE(core_->WaitRestoresIdle(absl::Seconds(30)));
}

// A maintenance process killed during a restore leaves a journal naming the
// step it reached. For each step, recreate what the crash left on disk and
// check that a new maintenance finishes the restore and starts the store.
TEST_F(MaintenanceTest, ARestoreInterruptedAtAnyStepIsFinishedAtStartUp) {
  Fill(300);
  Backup();
  for (const std::string step :
       {"started", "stopping", "quarantining", "installing", "starting", "verifying"}) {
    SCOPED_TRACE(step);
    const std::string id = Backups().back();  // each restore takes a new one
    core_.reset();
    CorruptLiveMailbox();
    const std::string table_dir = topology_.data_dir() + "/agent_mailbox";
    if (step != "started" && step != "stopping") {
      ASSERT_TRUE(processes_->Stop("mailbox").ok());
    }
    if (step == "installing" || step == "starting" || step == "verifying") {
      fs::rename(table_dir, topology_.data_dir() + "/quarantine-test-" + step);
    }
    if (step == "installing") {  // a half-built staging directory
      fs::create_directories(topology_.data_dir() + "/.restore-agent_mailbox");
      std::ofstream(topology_.data_dir() + "/.restore-agent_mailbox/000005.ldb") << "partial";
    }
    if (step == "starting" || step == "verifying") {
      auto restored = storage::RestoreBackup(
          storage::BackupPath(topology_.backup_dir(), "agent_mailbox", id), table_dir);
      ASSERT_TRUE(restored.ok()) << restored.status();
    }
    std::ofstream(topology_.state_dir() + "/restore-journal/agent_mailbox.json")
        << "{\"table\":\"agent_mailbox\",\"trigger\":\"auto\",\"reason\":\"" << step
        << "\",\"backup_id\":\"" << id << "\"}";
    NewCore();
    ASSERT_TRUE(core_->WaitRestoresIdle(absl::Seconds(30)));
    auto state = processes_->GetState("mailbox");
    EXPECT_EQ(*state, ProcessState::kRunning);
    ASSERT_TRUE(processes_->Find("agent_mailbox").ok());
    EXPECT_TRUE(Mailbox()->Verify().ok());
    EXPECT_EQ(Mailbox()->Stats().records(), 300u);
    EXPECT_FALSE(fs::exists(topology_.state_dir() + "/restore-journal/agent_mailbox.json"));
  }
}

// Killed after an error that was not a backup's fault had put the table
// back, before the journal was forgotten: the journal names a quarantine
// that is gone, and the table, with writes that only its logs hold, is in
// its place. The retry quarantines and replays that table.
TEST_F(MaintenanceTest, ARestoreKilledAfterPuttingTheTableBackLosesNothing) {
  Fill(300);
  Backup();
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(Mailbox()->Put(absl::StrCat("after-backup-", i), "acknowledged").ok());
  }
  const storage::VerifyResult before = *Mailbox()->Verify();
  ASSERT_EQ(before.record_count, 350u);
  core_.reset();
  CorruptLiveMailbox();
  fs::create_directories(topology_.state_dir() + "/restore-journal");
  std::ofstream(topology_.state_dir() + "/restore-journal/agent_mailbox.json")
      << "{\"table\":\"agent_mailbox\",\"trigger\":\"auto\",\"reason\":\"rolling_back\","
         "\"quarantine_path\":\""
      << topology_.data_dir() << "/quarantine/agent_mailbox-put-back\"}";
  NewCore();
  ASSERT_TRUE(core_->WaitRestoresIdle(absl::Seconds(30)));
  EXPECT_EQ(Mailbox()->state(), common::v1::TABLE_STATE_OK);
  auto after = Mailbox()->Verify();
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->record_count, before.record_count);
  EXPECT_EQ(after->content_hash, before.content_hash);
  EXPECT_EQ(EventTypes().back(), "recovery_complete");
  EXPECT_FALSE(fs::exists(topology_.state_dir() + "/restore-journal/agent_mailbox.json"));
}

// Issue 12. The windows in which agents could write to a table while
// maintenance assumed they could not. Each would let a restore move
// acknowledged writes to quarantine.

// 1. Between the store's start and the verification of the restored table.
TEST_F(MaintenanceTest, AgentsCannotWriteToARestoredTableBeforeItIsVerified) {
  Fill(300);
  const std::string id = Backup();
  CorruptLiveMailbox();
  std::vector<absl::StatusCode> agent_writes;
  processes_->after_start = [&](const std::string& store) {
    if (store != "mailbox") return;
    for (int i = 0; i < 5; ++i)
      agent_writes.push_back(Mailbox()->Put(absl::StrCat("a", i), "x").code());
  };
  auto result = core_->RestoreTable("agent_mailbox", "", v1::TRIGGER_MANUAL);
  processes_->after_start = nullptr;
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->outcome(), v1::RESTORE_OUTCOME_RESTORED) << result->reason();
  EXPECT_EQ(result->backup_id(), id);
  EXPECT_EQ(result->rejected_backups_size(), 0);
  EXPECT_THAT(agent_writes, ::testing::Each(absl::StatusCode::kUnavailable));
  EXPECT_EQ(agent_writes.size(), 5u);
  EXPECT_EQ(Mailbox()->state(), common::v1::TABLE_STATE_OK);
  EXPECT_TRUE(Mailbox()->Put("after", "x").ok());
  EXPECT_EQ(Mailbox()->Stats().records(), 301u);
}

// 2. The same for degraded mode's empty table.
TEST_F(MaintenanceTest, AgentsCannotWriteToTheEmptyDegradedTableBeforeItIsVerified) {
  FillWithoutLogsFromTheStart(100);
  CorruptLiveMailbox();
  std::vector<absl::StatusCode> agent_writes;
  processes_->after_start = [&](const std::string& store) {
    if (store == "mailbox") agent_writes.push_back(Mailbox()->Put("early", "x").code());
  };
  auto result = core_->RestoreTable("agent_mailbox", "", v1::TRIGGER_AUTO);
  processes_->after_start = nullptr;
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->outcome(), v1::RESTORE_OUTCOME_DEGRADED);
  EXPECT_THAT(agent_writes, ElementsAre(absl::StatusCode::kUnavailable));
  EXPECT_EQ(Mailbox()->state(), common::v1::TABLE_STATE_DEGRADED);
  EXPECT_EQ(Mailbox()->Stats().records(), 0u);
  EXPECT_TRUE(Mailbox()->Put("later", "x").ok());
}

// 3. A restore resumed after maintenance was killed once the restored (or
// empty) table was verified and serving: agents have written to it, and
// redoing the restore would quarantine their writes.
TEST_F(MaintenanceTest, AResumedRestoreThatHadFinishedKeepsWhatAgentsWroteSince) {
  Fill(300);
  const std::string id = Backup();
  for (const std::string step : {"starting", "verifying", "serving", "starting_empty"}) {
    SCOPED_TRACE(step);
    core_.reset();
    ASSERT_TRUE(Mailbox()->Put(absl::StrCat("written-after-", step), "acknowledged").ok());
    const uint64_t records = Mailbox()->Stats().records();
    fs::create_directories(topology_.state_dir() + "/restore-journal");
    std::ofstream(topology_.state_dir() + "/restore-journal/agent_mailbox.json")
        << "{\"table\":\"agent_mailbox\",\"trigger\":\"auto\",\"reason\":\"" << step
        << "\",\"backup_id\":\"" << (step == "starting_empty" ? "" : id) << "\"}";
    NewCore();
    ASSERT_TRUE(core_->WaitRestoresIdle(absl::Seconds(30)));
    EXPECT_EQ(Mailbox()->Stats().records(), records);
    EXPECT_TRUE(Mailbox()->Get(absl::StrCat("written-after-", step))->has_value());
    EXPECT_FALSE(fs::exists(topology_.data_dir() + "/quarantine"));
    EXPECT_EQ(EventTypes().back(),
              step == "starting_empty" ? "recovery_failed" : "recovery_complete");
    EXPECT_FALSE(fs::exists(topology_.state_dir() + "/restore-journal/agent_mailbox.json"));
  }
}

// 4. Resumed before verification: the installed table is still RESTORING,
// has served nothing, and the restore is redone.
TEST_F(MaintenanceTest, AResumedRestoreOfAnUnverifiedTableIsRedone) {
  Fill(300);
  const std::string id = Backup();
  core_.reset();
  CorruptLiveMailbox();
  ASSERT_TRUE(processes_->Stop("mailbox").ok());
  const std::string table_dir = topology_.data_dir() + "/agent_mailbox";
  fs::rename(table_dir, topology_.data_dir() + "/quarantine-by-test");
  ASSERT_TRUE(storage::RestoreBackup(
                  storage::BackupPath(topology_.backup_dir(), "agent_mailbox", id), table_dir)
                  .ok());
  std::ofstream(table_dir + "/" + storage::kRestoringMarkerFile) << "restoring\n";
  ASSERT_TRUE(processes_->Start("mailbox").ok());
  EXPECT_EQ(Mailbox()->state(), common::v1::TABLE_STATE_RESTORING);
  fs::create_directories(topology_.state_dir() + "/restore-journal");
  std::ofstream(topology_.state_dir() + "/restore-journal/agent_mailbox.json")
      << "{\"table\":\"agent_mailbox\",\"trigger\":\"auto\",\"reason\":\"verifying\",\"backup_id\":"
         "\""
      << id << "\",\"quarantine_path\":\"" << topology_.data_dir() << "/quarantine-by-test\"}";
  NewCore();
  ASSERT_TRUE(core_->WaitRestoresIdle(absl::Seconds(30)));
  EXPECT_EQ(Mailbox()->state(), common::v1::TABLE_STATE_OK);
  EXPECT_EQ(Mailbox()->Stats().records(), 300u);
  EXPECT_EQ(EventTypes().back(), "recovery_complete");
}

// 5. A table found RESTORING at start-up with no journal (it could not be
// written) has served nothing: it is restored again rather than left out of
// service.
TEST_F(MaintenanceTest, ATableLeftRestoringWithoutAJournalIsRestoredAgain) {
  Fill(100);
  Backup();
  core_.reset();
  ASSERT_TRUE(processes_->Stop("mailbox").ok());
  std::ofstream(topology_.data_dir() + "/agent_mailbox/" + storage::kRestoringMarkerFile) << "x\n";
  ASSERT_TRUE(processes_->Start("mailbox").ok());
  NewCore();
  ASSERT_TRUE(core_->WaitRestoresIdle(absl::Seconds(30)));
  EXPECT_EQ(Mailbox()->state(), common::v1::TABLE_STATE_OK);
  EXPECT_EQ(Mailbox()->Stats().records(), 100u);
}

// 6. An operator's restore requested while an automatic one is in progress
// joins it instead of restoring a second time over what agents wrote in
// between.
TEST_F(MaintenanceTest, AManualRestoreDuringAnAutomaticOneJoinsIt) {
  Fill(200);
  const std::string id = Backup();
  CorruptLiveMailbox();
  absl::Notification started, release;
  std::thread manual;
  absl::StatusOr<v1::RestoreResult> joined;
  processes_->after_start = [&](const std::string& store) {
    if (store != "mailbox" || started.HasBeenNotified()) return;
    started.Notify();
    manual =
        std::thread([&] { joined = core_->RestoreTable("agent_mailbox", "", v1::TRIGGER_MANUAL); });
    release.WaitForNotification();
  };
  ASSERT_TRUE(*core_->ReportCorruption("agent_mailbox", "Corruption: x"));
  started.WaitForNotification();
  absl::SleepFor(absl::Milliseconds(50));  // the manual request is waiting
  release.Notify();
  ASSERT_TRUE(core_->WaitRestoresIdle(absl::Seconds(30)));
  manual.join();
  processes_->after_start = nullptr;
  ASSERT_TRUE(joined.ok());
  EXPECT_EQ(joined->outcome(), v1::RESTORE_OUTCOME_RESTORED);
  EXPECT_EQ(joined->trigger(), "auto");
  EXPECT_EQ(joined->backup_id(), id);
  auto types = EventTypes();
  EXPECT_EQ(std::count(types.begin(), types.end(), "recovery_complete"), 1);
  EXPECT_EQ(std::count(types.begin(), types.end(), "recovery_started"), 1);
}

// 7. A restore of a named backup that overtakes a queued automatic restore
// leaves a serving table; the queued one is not run over it.
TEST_F(MaintenanceTest, AQueuedAutomaticRestoreOvertakenByAManualOneDoesNotRun) {
  Fill(200);
  const std::string id = Backup();
  // Keep the restore worker busy with the config table.
  absl::Notification busy, release;
  processes_->after_start = [&](const std::string& store) {
    if (store != "config" || busy.HasBeenNotified()) return;
    busy.Notify();
    release.WaitForNotification();
  };
  ASSERT_TRUE(*core_->ReportCorruption("agentcom_config", "Corruption: test"));
  busy.WaitForNotification();
  CorruptLiveMailbox();
  ASSERT_TRUE(*core_->ReportCorruption("agent_mailbox", "Corruption: x"));  // queued
  auto manual = core_->RestoreTable("agent_mailbox", id, v1::TRIGGER_MANUAL);
  ASSERT_TRUE(manual.ok());
  EXPECT_EQ(manual->outcome(), v1::RESTORE_OUTCOME_RESTORED) << manual->reason();
  ASSERT_TRUE(Mailbox()->Put("acknowledged-after-manual", "x").ok());
  release.Notify();
  ASSERT_TRUE(core_->WaitRestoresIdle(absl::Seconds(30)));
  processes_->after_start = nullptr;
  EXPECT_TRUE(Mailbox()->Get("acknowledged-after-manual")->has_value());
  EXPECT_EQ(Mailbox()->Stats().records(), 201u);
  int mailbox_restores = 0;
  for (const auto& e : events_->After(0, 1000)) {
    mailbox_restores += e.type() == "recovery_started" && e.table() == "agent_mailbox";
  }
  EXPECT_EQ(mailbox_restores, 1);
}

// Issue 13: file-system errors during a restore that are not a backup's
// fault end it FAILED with a clear reason, and nothing is deleted: the table
// stays (or is put back) where it was, the backups stay, and no backup is
// rejected for it.
std::vector<std::string> FilesIn(const std::string& dir, const std::string& extension = "") {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& f : fs::directory_iterator(dir, ec)) {
    if (extension.empty() || f.path().extension() == extension)
      names.push_back(f.path().filename());
  }
  std::sort(names.begin(), names.end());
  return names;
}

TEST_F(MaintenanceTest, AnIoErrorWhileQuarantiningFailsTheRestoreAndDeletesNothing) {
  Fill(300);
  const std::string id = Backup();
  CorruptLiveMailbox();
  const std::string table_dir = topology_.data_dir() + "/agent_mailbox";
  const std::vector<std::string> files = FilesIn(table_dir, ".ldb");
  env_.FailRenames("Permission denied", "/quarantine/");
  env_.armed = true;
  auto result = core_->RestoreTable("agent_mailbox", "", v1::TRIGGER_MANUAL);
  env_.armed = false;
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->outcome(), v1::RESTORE_OUTCOME_FAILED);
  EXPECT_THAT(result->reason(), HasSubstr("cannot move"));
  EXPECT_THAT(result->reason(), HasSubstr("quarantine"));
  EXPECT_THAT(result->reason(), HasSubstr("Permission denied"));
  EXPECT_EQ(result->rejected_backups_size(), 0);
  EXPECT_EQ(EventTypes().back(), "recovery_failed");
  // Every table file is still there (a reopen may have added one).
  EXPECT_THAT(FilesIn(table_dir, ".ldb"), ::testing::IsSupersetOf(files));
  EXPECT_EQ(Mailbox()->state(), common::v1::TABLE_STATE_CORRUPTED);  // and served again
  EXPECT_THAT(Backups(), ElementsAre(id));
  EXPECT_TRUE(
      storage::VerifyBackup(storage::BackupPath(topology_.backup_dir(), "agent_mailbox", id)).ok());
  EXPECT_TRUE(FilesIn(topology_.data_dir() + "/quarantine").empty());
}

TEST_F(MaintenanceTest, ADiskFullWhileInstallingFailsTheRestoreAndPutsTheTableBack) {
  Fill(300);
  const std::string id = Backup();
  CorruptLiveMailbox();
  const std::string table_dir = topology_.data_dir() + "/agent_mailbox";
  const std::vector<std::string> files = FilesIn(table_dir, ".ldb");
  env_.FailWrites("No space left on device", "/.restore-agent_mailbox/");
  env_.armed = true;
  auto result = core_->RestoreTable("agent_mailbox", "", v1::TRIGGER_MANUAL);
  env_.armed = false;
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->outcome(), v1::RESTORE_OUTCOME_FAILED);
  EXPECT_THAT(result->reason(), HasSubstr("cannot install backup " + id));
  EXPECT_THAT(result->reason(), HasSubstr("No space left on device"));
  EXPECT_EQ(result->rejected_backups_size(), 0);
  EXPECT_EQ(result->quarantine_path(), "");  // put back
  EXPECT_EQ(EventTypes().back(), "recovery_failed");
  EXPECT_THAT(FilesIn(table_dir, ".ldb"), ::testing::IsSupersetOf(files));
  EXPECT_FALSE(fs::exists(topology_.data_dir() + "/.restore-agent_mailbox"));
  EXPECT_TRUE(FilesIn(topology_.data_dir() + "/quarantine").empty());
  EXPECT_EQ(Mailbox()->state(), common::v1::TABLE_STATE_CORRUPTED);
  EXPECT_THAT(Backups(), ElementsAre(id));
  // With room again, the restore works.
  result = core_->RestoreTable("agent_mailbox", "", v1::TRIGGER_MANUAL);
  EXPECT_EQ(result->outcome(), v1::RESTORE_OUTCOME_RESTORED) << result->reason();
  EXPECT_EQ(Mailbox()->Stats().records(), 300u);
}

TEST_F(MaintenanceTest, AStoreThatCannotStartIsReportedAsFailed) {
  Fill(100);
  Backup();
  CorruptLiveMailbox();
  processes_->fail_start = true;
  auto result = core_->RestoreTable("agent_mailbox", "", v1::TRIGGER_MANUAL);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->outcome(), v1::RESTORE_OUTCOME_FAILED);
  EXPECT_THAT(result->reason(), HasSubstr("FATAL"));
  processes_->fail_start = false;
}

// Issue 8: an automatic restore that fails (here the store will not start;
// in production also supervisord down) is retried with backoff until the
// table is served again, instead of leaving it corrupted. Issue 13: the
// backoff runs on the injected clock: 5 s, then 10 s, and nothing earlier.
TEST_F(MaintenanceTest, AFailedAutomaticRestoreIsRetriedWithBackoffOnTheClock) {
  Fill(100);
  Backup();
  CorruptLiveMailbox();
  processes_->fail_start = true;
  auto attempts = [&] {
    auto types = EventTypes();
    return std::count(types.begin(), types.end(), "recovery_started");
  };
  ASSERT_TRUE(*core_->ReportCorruption("agent_mailbox", "Corruption: x"));
  ASSERT_TRUE(core_->WaitRestoreRetryPending(absl::Seconds(30)));  // failed, waits to retry
  EXPECT_EQ(attempts(), 1);
  EXPECT_EQ(EventTypes().back(), "recovery_failed");
  clock_.Advance(absl::Seconds(5) - absl::Milliseconds(1));
  ASSERT_TRUE(core_->WaitRestoreRetryPending(absl::Seconds(30)));
  EXPECT_EQ(attempts(), 1);
  clock_.Advance(absl::Milliseconds(1));  // 5 s: the first retry
  ASSERT_TRUE(core_->WaitRestoreRetryPending(absl::Seconds(30)));
  EXPECT_EQ(attempts(), 2);
  // A duplicate report while the retry is pending starts nothing new.
  EXPECT_FALSE(*core_->ReportCorruption("agent_mailbox", "Corruption: again"));
  clock_.Advance(absl::Seconds(10) - absl::Milliseconds(1));
  ASSERT_TRUE(core_->WaitRestoreRetryPending(absl::Seconds(30)));
  EXPECT_EQ(attempts(), 2);
  processes_->fail_start = false;
  clock_.Advance(absl::Milliseconds(1));  // 10 s later: the second retry
  ASSERT_TRUE(core_->WaitRestoresIdle(absl::Seconds(30)));
  EXPECT_EQ(attempts(), 3);
  EXPECT_EQ(EventTypes().back(), "recovery_complete");
  EXPECT_EQ(Mailbox()->Stats().records(), 100u);
  EXPECT_TRUE(Mailbox()->Verify().ok());
}

// A restore that installed the table (the backup plus the writes replayed
// from the damaged table's logs) and then could not start the store is
// retried. The retry resumes it from its journal: it replays the same logs
// from the table first quarantined, not from the installed copy (whose
// replayed writes are no longer in logs), so the writes made after the
// backup are still all there.
TEST_F(MaintenanceTest, ARetriedRestoreKeepsTheWritesMadeAfterTheBackup) {
  Fill(100);
  Backup();
  Fill(400, 1);  // after the backup: 300 new records, 100 overwritten
  const storage::VerifyResult before = *Mailbox()->Verify();
  CorruptLiveMailbox();
  processes_->fail_start = true;
  ASSERT_TRUE(*core_->ReportCorruption("agent_mailbox", "Corruption: x", 400));
  ASSERT_TRUE(core_->WaitRestoreRetryPending(absl::Seconds(30)));
  EXPECT_EQ(EventTypes().back(), "recovery_failed");
  processes_->fail_start = false;
  clock_.Advance(absl::Seconds(5));
  ASSERT_TRUE(core_->WaitRestoresIdle(absl::Seconds(30)));
  ASSERT_EQ(EventTypes().back(), "recovery_complete");
  auto after = Mailbox()->Verify();
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->record_count, before.record_count);
  EXPECT_EQ(after->content_hash, before.content_hash);
  v1::Event complete = events_->After(0, 1000).back();
  EXPECT_EQ(complete.details().at("lost_operations"), "0");
}

// Issue 13: a store that starts but never serves fails the restore once the
// topology's store_start_timeout has passed on the injected clock, not before.
TEST_F(MaintenanceTest, AStoreThatNeverServesFailsTheRestoreAtTheStartDeadline) {
  Fill(100);
  Backup();
  const absl::Duration timeout =
      absl::Seconds(topology_.maintenance().store_start_timeout_seconds());
  processes_->never_serving = true;
  absl::Notification done;
  absl::StatusOr<v1::RestoreResult> result;
  const absl::Time start = clock_.Now();
  // The restore worker waits on the clock from the start (for work): let it
  // be waiting before counting the restore's waits.
  while (clock_.blocks() == 0) absl::SleepFor(absl::Milliseconds(1));
  uint64_t blocks = clock_.blocks();
  std::thread restore([&] {
    result = core_->RestoreTable("agent_mailbox", "", v1::TRIGGER_MANUAL);
    done.Notify();
  });
  while (WaitForClockWaiter(blocks, &done)) {  // it polls the store's health
    EXPECT_LT(clock_.Now() - start, timeout);
    blocks = clock_.blocks();
    clock_.Advance(absl::Seconds(1));
  }
  restore.join();
  processes_->never_serving = false;
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->outcome(), v1::RESTORE_OUTCOME_FAILED);
  EXPECT_THAT(result->reason(), HasSubstr("did not serve within"));
  EXPECT_EQ(clock_.Now() - start, timeout);
}

TEST_F(MaintenanceTest, EventsPersistAcrossARestartWithIncreasingIds) {
  core_->CompactAll(false, v1::TRIGGER_MANUAL);
  const uint64_t last = events_->After(0, 1000).back().id();
  NewCore();
  core_->CompactAll(false, v1::TRIGGER_MANUAL);
  auto all = events_->After(0, 1000);
  EXPECT_GT(all.back().id(), last);
  EXPECT_EQ(events_->After(last, 1000).size(), 1u);
}

TEST_F(MaintenanceTest, HealthReportsEveryTable) {
  Fill(100);
  Backup();
  core_->CompactAll(true, v1::TRIGGER_MANUAL);
  ASSERT_TRUE(processes_->Stop("config").ok());
  v1::GetHealthResponse h = core_->GetHealth();
  ASSERT_EQ(h.tables_size(), 2);
  EXPECT_EQ(h.tables(0).stats().table(), "agent_mailbox");
  EXPECT_EQ(h.tables(0).stats().records(), 100u);
  EXPECT_EQ(h.tables(0).backups_retained(), 1u);
  EXPECT_EQ(h.tables(0).last_backup_result(), "ok");
  EXPECT_EQ(h.tables(0).last_compaction_result(), "compacted");
  EXPECT_EQ(h.tables(1).stats().state(), common::v1::TABLE_STATE_UNAVAILABLE);
  EXPECT_DOUBLE_EQ(h.compaction_threshold(), 0.10);
}

}  // namespace
}  // namespace agentcom::maintenance

namespace agentcom::maintenance {
namespace {

// Copies off this host (issue 16), here to another directory; the tests
// against a real object store are in tests/common/remote and
// tests/integration/remote_backup_test.
class RemoteBackupTest : public MaintenanceTest {
 protected:
  void SetUp() override {
    fs::create_directories(dir_.Sub("remote"));
    remote_ = std::make_unique<remote::DirectoryDestination>(dir_.Sub("remote"));
    topology_ = testing::MakeTopology(
        dir_.path(), {{"mailbox", {"agent_mailbox"}}, {"config", {"agentcom_config"}}});
    topology_.mutable_maintenance()->mutable_remote_backup()->set_kind("directory");
    topology_.mutable_maintenance()->mutable_remote_backup()->set_directory(dir_.Sub("remote"));
    topology_.mutable_maintenance()->mutable_remote_backup()->set_upload_interval_seconds(3600);
    topology_.mutable_maintenance()->mutable_remote_backup()->set_parallelism(3);
    processes_ = std::make_unique<FakeProcesses>(topology_);
    NewCore();
  }
  void Ship() {
    storage::WalShipper shipper(leveldb::Env::Default(), &clock_,
                                topology_.data_dir() + "/agent_mailbox",
                                storage::ShippedWalRoot(topology_.backup_dir(), "agent_mailbox"));
    ASSERT_TRUE(shipper.ShipOnce().ok());
  }
  std::vector<std::string> RemoteKeys(const std::string& prefix = "agent_mailbox/") {
    std::vector<std::string> keys;
    absl::StatusOr<std::vector<remote::RemoteObject>> listed = remote_->List(prefix);
    EXPECT_TRUE(listed.ok()) << listed.status();
    if (!listed.ok()) return keys;
    for (const auto& o : *listed) keys.push_back(o.key);
    return keys;
  }
};

TEST_F(RemoteBackupTest, ATableWhoseDataAndBackupsAreGoneIsRestoredFromTheRemoteCopies) {
  Fill(1000);
  ASSERT_TRUE(Mailbox()->Compact().ok());  // table files, for the pool
  const std::string id = Backup();
  Fill(500, 1);
  Ship();
  ASSERT_TRUE(core_->SyncRemote().ok());
  // The live log grew: only what it gained goes up, as a segment.
  Fill(300, 2);
  Ship();
  ASSERT_TRUE(core_->SyncRemote().ok());
  const std::vector<std::string> keys = RemoteKeys();
  EXPECT_THAT(keys, ::testing::Contains(absl::StrCat("agent_mailbox/", id, "/MANIFEST.json")));
  EXPECT_THAT(keys, ::testing::Contains(HasSubstr("agent_mailbox/pool/")));
  int segments = 0;
  for (const std::string& k : keys) {
    if (absl::StrContains(k, "/wal/") && !absl::EndsWith(k, ".log")) ++segments;
  }
  EXPECT_GE(segments, 2);
  auto* through = FindMetric("agentcom_remote_backup_through_timestamp_seconds", "agent_mailbox");
  ASSERT_NE(through, nullptr);
  EXPECT_GT(through->gauge.value, 0);
  auto listed = core_->ListBackups("agent_mailbox");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->remote_size(), 1);
  EXPECT_EQ(listed->remote(0).destination(), remote_->Describe());
  EXPECT_EQ(listed->remote(0).pending_bytes(), 0u);
  ASSERT_EQ(listed->backups_size(), 1);
  EXPECT_TRUE(listed->backups(0).local());
  EXPECT_TRUE(listed->backups(0).remote());

  const storage::VerifyResult before = *Mailbox()->Verify();
  // The disk is lost: the table's data and its whole local backup directory.
  ASSERT_TRUE(processes_->Stop("mailbox").ok());
  fs::remove_all(topology_.data_dir() + "/agent_mailbox");
  fs::remove_all(topology_.backup_dir() + "/agent_mailbox");
  auto r = core_->RestoreTable("agent_mailbox", "", v1::TRIGGER_MANUAL);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome(), v1::RESTORE_OUTCOME_RESTORED) << r->reason();
  EXPECT_EQ(r->backup_id(), id);
  EXPECT_EQ(r->fetched_from(), remote_->Describe());
  auto after = Mailbox()->Verify();
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->record_count, before.record_count);
  EXPECT_EQ(after->content_hash, before.content_hash);
  EXPECT_THAT(EventTypes(), ::testing::Contains("backups_fetched"));
}

// A remote copy altered at rest is detected by its checksum and not used:
// the restore takes the older backup and replays the logs onto it.
TEST_F(RemoteBackupTest, AnAlteredRemoteCopyIsNotUsedAndAnOlderBackupIs) {
  Fill(500);
  ASSERT_TRUE(Mailbox()->Compact().ok());
  const std::string older = Backup();
  Fill(500, 1);
  ASSERT_TRUE(Mailbox()->Compact().ok());
  const std::string newer = Backup();
  Fill(200, 2);
  Ship();
  ASSERT_TRUE(core_->SyncRemote().ok());
  const storage::VerifyResult before = *Mailbox()->Verify();
  // Bytes flipped in a file only the newer backup has (its MANIFEST copy).
  std::string victim;
  for (const auto& e : fs::directory_iterator(dir_.Sub("remote/agent_mailbox/" + newer))) {
    if (absl::StartsWith(e.path().filename().string(), "MANIFEST-")) victim = e.path().string();
  }
  ASSERT_FALSE(victim.empty());
  testing::FlipBytes(victim, 10, 4);

  ASSERT_TRUE(processes_->Stop("mailbox").ok());
  fs::remove_all(topology_.data_dir() + "/agent_mailbox");
  fs::remove_all(topology_.backup_dir() + "/agent_mailbox");
  auto r = core_->RestoreTable("agent_mailbox", "", v1::TRIGGER_MANUAL);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome(), v1::RESTORE_OUTCOME_RESTORED) << r->reason();
  EXPECT_EQ(r->backup_id(), older);
  EXPECT_EQ(r->lost_operations(), 0u);
  auto after = Mailbox()->Verify();
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->content_hash, before.content_hash);
  v1::Event fetched;
  for (const auto& e : events_->After(0, 1000)) {
    if (e.type() == "backups_fetched") fetched = e;
  }
  EXPECT_EQ(fetched.details().at("backups"), "1");
  EXPECT_THAT(fetched.details().at("problems"), HasSubstr("SHA-256 does not match"));
}

// A host that lost everything (data directory, sequence bounds, local
// backups) opens the table empty, with nothing local to say it held data;
// the mirror's next round finds its backups at the destination only, and
// the table is restored from them with no operator involved.
TEST_F(RemoteBackupTest, AnEmptyTableOnAHostThatLostItsDataIsRestoredFromTheRemoteByItself) {
  Fill(800);
  ASSERT_TRUE(Mailbox()->Compact().ok());
  const std::string id = Backup();
  Fill(300, 1);
  Ship();
  ASSERT_TRUE(core_->SyncRemote().ok());
  const storage::VerifyResult before = *Mailbox()->Verify();

  ASSERT_TRUE(processes_->Stop("mailbox").ok());
  fs::remove_all(topology_.data_dir());
  fs::remove_all(topology_.backup_dir());
  fs::create_directories(topology_.data_dir());
  fs::create_directories(topology_.backup_dir());
  ASSERT_TRUE(processes_->Start("mailbox").ok());
  ASSERT_EQ(Mailbox()->Stats().records(), 0u);
  ASSERT_EQ(Mailbox()->Stats().state(), common::v1::TABLE_STATE_OK);

  ASSERT_TRUE(core_->SyncRemote().ok());
  ASSERT_TRUE(core_->WaitRestoresIdle(absl::Seconds(60)));
  auto after = Mailbox()->Verify();
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->record_count, before.record_count);
  EXPECT_EQ(after->content_hash, before.content_hash);
  v1::Event complete;
  bool reported = false;
  for (const auto& e : events_->After(0, 1000)) {
    if (e.type() == "recovery_complete") complete = e;
    if (e.type() == "corruption_detected" && absl::StrContains(e.message(), "lost its data")) {
      reported = true;
    }
  }
  EXPECT_TRUE(reported);
  EXPECT_EQ(complete.details().at("backup_id"), id);
  // The other table was empty and had no backups anywhere: untouched.
  EXPECT_EQ(processes_->Find("agentcom_config").ok(), true);
}

// Names read from the destination become local paths: a remote manifest
// naming a file outside the backup is refused, and nothing is written.
TEST_F(RemoteBackupTest, RemoteNamesThatWouldEscapeTheBackupDirectoryAreRefused) {
  const std::string id = "20261127T000000.000000Z";
  common::v1::BackupManifest m;
  m.set_format_version(storage::kFileBackupFormatVersion);
  m.set_table("agent_mailbox");
  m.set_backup_id(id);
  m.add_files()->set_name("../../../escaped");
  m.mutable_files(0)->set_size_bytes(1);
  std::string json;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(m, &json).ok());
  std::ofstream(dir_.Sub("crafted.json")) << json;
  ASSERT_TRUE(remote_
                  ->Upload(dir_.Sub("crafted.json"), 0, json.size(),
                           absl::StrCat("agent_mailbox/", id, "/MANIFEST.json"))
                  .ok());
  RemoteMirror mirror({.destination = remote_.get(),
                       .env = leveldb::Env::Default(),
                       .clock = &clock_,
                       .backup_root = topology_.backup_dir(),
                       .tables = {"agent_mailbox"},
                       .on_round = nullptr,
                       .on_only_remote = nullptr});
  auto fetched = mirror.Fetch("agent_mailbox");
  ASSERT_TRUE(fetched.ok()) << fetched.status();
  EXPECT_EQ(fetched->backups, 0);
  ASSERT_EQ(fetched->problems.size(), 1u);
  EXPECT_THAT(fetched->problems[0], HasSubstr("bad file name '../../../escaped'"));
  EXPECT_TRUE(Backups().empty());
  for (const auto& e : fs::recursive_directory_iterator(dir_.path())) {
    EXPECT_NE(e.path().filename(), "escaped") << e.path();
  }
}

TEST_F(RemoteBackupTest, RemoteRetentionFollowsTheLocalOneButNeverALostDirectory) {
  topology_.mutable_maintenance()->set_backup_retention(1);
  NewCore();
  Fill(500);
  const std::string first = Backup();
  ASSERT_TRUE(core_->SyncRemote().ok());
  Fill(500, 1);
  ASSERT_TRUE(Mailbox()->Compact().ok());
  const std::string second = Backup();
  ASSERT_THAT(Backups(), ElementsAre(second));
  ASSERT_TRUE(core_->SyncRemote().ok());
  std::vector<std::string> keys = RemoteKeys();
  EXPECT_THAT(keys, ::testing::Contains(absl::StrCat("agent_mailbox/", second, "/MANIFEST.json")));
  EXPECT_THAT(keys, ::testing::Not(::testing::Contains(HasSubstr(first))));
  // Every remote pool file is one the remaining backup lists.
  const auto manifest =
      *storage::ReadManifest(storage::BackupPath(topology_.backup_dir(), "agent_mailbox", second));
  std::set<std::string> listed_pool;
  for (const auto& f : manifest.files()) {
    if (f.pooled()) listed_pool.insert(absl::StrCat("agent_mailbox/pool/", f.name()));
  }
  for (const std::string& k : RemoteKeys("agent_mailbox/pool/")) {
    EXPECT_TRUE(listed_pool.count(k)) << k;
  }

  // The newest backup's local copy alone is removed by hand: its remote
  // copy stays, with the pool files it lists (no local manifest lists them).
  Fill(100, 2);
  ASSERT_TRUE(Mailbox()->Compact().ok());
  topology_.mutable_maintenance()->set_backup_retention(2);
  NewCore();
  const std::string third = Backup();
  ASSERT_THAT(Backups(), ElementsAre(second, third));
  ASSERT_TRUE(core_->SyncRemote().ok());
  std::set<std::string> third_pool;
  const auto third_manifest =
      *storage::ReadManifest(storage::BackupPath(topology_.backup_dir(), "agent_mailbox", third));
  for (const auto& f : third_manifest.files()) {
    if (f.pooled()) third_pool.insert(absl::StrCat("agent_mailbox/pool/", f.name()));
  }
  fs::remove_all(storage::BackupPath(topology_.backup_dir(), "agent_mailbox", third));
  ASSERT_TRUE(core_->SyncRemote().ok());
  keys = RemoteKeys();
  EXPECT_THAT(keys, ::testing::Contains(absl::StrCat("agent_mailbox/", third, "/MANIFEST.json")));
  for (const std::string& k : third_pool) EXPECT_THAT(keys, ::testing::Contains(k));

  // The local backup directory is lost: nothing is deleted remotely, and
  // the remote backup is listed as remote only.
  const size_t before = RemoteKeys().size();
  fs::remove_all(topology_.backup_dir() + "/agent_mailbox");
  ASSERT_TRUE(core_->SyncRemote().ok());
  EXPECT_EQ(RemoteKeys().size(), before);
  auto listed = core_->ListBackups("agent_mailbox");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->backups_size(), 2);
  EXPECT_EQ(listed->backups(0).backup_id(), third);
  EXPECT_EQ(listed->backups(1).backup_id(), second);
  for (const auto& b : listed->backups()) {
    EXPECT_FALSE(b.local());
    EXPECT_TRUE(b.remote());
  }
}

TEST_F(RemoteBackupTest, ADestinationThatIsGoneFailsTheRoundAndLocalBackupsGoOn) {
  fs::remove_all(dir_.Sub("remote"));  // the share is not mounted
  Fill(100);
  Backup();
  absl::Status s = core_->SyncRemote();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("not mounted"));
  EXPECT_FALSE(fs::exists(dir_.Sub("remote")));  // never created on the local disk
  auto* failures = FindMetric("agentcom_remote_backup_failures_total", "agent_mailbox");
  ASSERT_NE(failures, nullptr);
  EXPECT_EQ(failures->counter.value, 1);
  auto listed = core_->ListBackups("agent_mailbox");
  ASSERT_TRUE(listed.ok());
  EXPECT_THAT(listed->remote(0).last_error(), HasSubstr("not mounted"));
  EXPECT_FALSE(listed->remote(0).has_through());
  EXPECT_EQ(Backups().size(), 1u);  // the local backup is there
  // The share comes back: the next round catches up.
  fs::create_directories(dir_.Sub("remote"));
  ASSERT_TRUE(core_->SyncRemote().ok());
  EXPECT_FALSE(RemoteKeys().empty());
}

}  // namespace
}  // namespace agentcom::maintenance
