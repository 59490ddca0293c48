// Fault suite (issue 8): real processes under a real supervisord, real files,
// real signals. Each case breaks something the way production breaks it and
// checks that the system ends healthy or in a declared degraded state, that
// no acknowledged write in a verified backup is lost, that nothing is deleted
// (damaged files go to quarantine), and that the right event and metric
// appear. Stores run at their shipped durability (sync) unless a case says.
#include <grpcpp/client_context.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/storage/backup.h"
#include "common/storage/file_backup.h"
#include "common/storage/wal_shipper.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/system_fixture.h"
#include "tests/support/test_support.h"

namespace agentcom::testing {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;
namespace mnt = ::agentcom::maintenance::v1;
namespace mbx = ::agentcom::mailbox::v1;

constexpr int kMessages = 2000;

std::vector<std::string> FilesIn(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::string NewestWithExtension(const std::string& dir, const std::string& ext) {
  std::string best;
  for (const auto& f : FilesIn(dir)) {
    if (fs::path(f).extension() == ext && f > best) best = f;
  }
  return best.empty() ? "" : dir + "/" + best;
}

// Every file of every quarantined copy of `table`.
std::vector<std::string> Quarantined(const std::string& data_dir, const std::string& table) {
  std::vector<std::string> out;
  for (const auto& copy : FilesIn(data_dir + "/quarantine")) {
    if (!absl::StartsWith(copy, table + "-")) continue;
    for (const auto& f : FilesIn(data_dir + "/quarantine/" + copy)) out.push_back(f);
  }
  return out;
}

class FaultTest : public SystemTest {
 protected:
  // After an interrupted restore: no program left stopped, no journal entry
  // or install directory left, the damaged table kept in quarantine.
  void ExpectNothingLeftHalfDone() {
    const std::string status = system_->Supervisorctl("status");
    EXPECT_THAT(status, ::testing::Not(HasSubstr("STOPPED"))) << status;
    EXPECT_THAT(status, ::testing::Not(HasSubstr("FATAL"))) << status;
    EXPECT_TRUE(FilesIn(system_->topology().state_dir() + "/restore-journal").empty());
    EXPECT_FALSE(fs::exists(DataDir() + "/.restore-agent_mailbox"));
    EXPECT_FALSE(Quarantined(DataDir(), "agent_mailbox").empty());
  }

  // Checks the outcome every restore case shares: the restore came from
  // `backup_id`, was automatic, and is counted in the metrics.
  void ExpectRestoredFrom(const std::string& backup_id) {
    auto complete = WaitForEvent("recovery_complete", absl::Seconds(10));
    ASSERT_TRUE(complete.has_value());
    EXPECT_EQ(complete->table(), "agent_mailbox");
    EXPECT_EQ(complete->details().at("trigger"), "auto");
    EXPECT_EQ(complete->details().at("backup_id"), backup_id);
    EXPECT_TRUE(WaitForEvent("corruption_detected", absl::Seconds(1)).has_value());
    EXPECT_THAT(MaintenanceMetrics(),
                HasSubstr("agentcom_recoveries_total{result=\"restored\",table=\"agent_mailbox\","
                          "trigger=\"auto\"} 1"));
  }
  std::string MailboxDir() const { return DataDir() + "/agent_mailbox"; }
  void StopMailbox() { ASSERT_THAT(system_->Supervisorctl("stop mailbox"), HasSubstr("stopped")); }
  // supervisorctl may say "abnormal termination": a store that finds its
  // table damaged at open reports it at once, and maintenance may stop it
  // for the restore before supervisord's startsecs have passed.
  void StartMailbox() { system_->Supervisorctl("start mailbox"); }
};

// --------------------------------------------------- damage to a table at rest

enum class Damage { kTruncatedTableFile, kDeletedTableFile, kCorruptedManifest, kMissingCurrent };

std::string DamageName(const ::testing::TestParamInfo<Damage>& info) {
  switch (info.param) {
    case Damage::kTruncatedTableFile:
      return "TruncatedTableFile";
    case Damage::kDeletedTableFile:
      return "DeletedTableFile";
    case Damage::kCorruptedManifest:
      return "CorruptedManifest";
    case Damage::kMissingCurrent:
      return "MissingCurrent";
  }
  return "";
}

class AtRestDamageTest : public FaultTest, public ::testing::WithParamInterface<Damage> {};

// The store is stopped, a file of its table is damaged, and it is started
// again: the damage is found (at open, or at the first read), the table is
// restored from the newest backup, and the damaged files are quarantined.
TEST_P(AtRestDamageTest, IsRestoredFromTheNewestBackupAndQuarantined) {
  system_->EnqueueMessages(kMessages);
  const std::string backup_id = system_->CompactAndBackUpMailbox();
  ASSERT_FALSE(backup_id.empty());
  StopMailbox();
  std::vector<std::string> before = FilesIn(MailboxDir());
  switch (GetParam()) {
    case Damage::kTruncatedTableFile: {
      const std::string f = testing::LargestFileWithExtension(MailboxDir(), ".ldb");
      ASSERT_FALSE(f.empty());
      fs::resize_file(f, fs::file_size(f) / 2);
      break;
    }
    case Damage::kDeletedTableFile: {
      const std::string f = testing::LargestFileWithExtension(MailboxDir(), ".ldb");
      ASSERT_FALSE(f.empty());
      fs::remove(f);
      before.erase(std::find(before.begin(), before.end(), fs::path(f).filename().string()));
      break;
    }
    case Damage::kCorruptedManifest: {
      std::string manifest;
      for (const auto& name : FilesIn(MailboxDir())) {
        if (absl::StartsWith(name, "MANIFEST-")) manifest = MailboxDir() + "/" + name;
      }
      ASSERT_FALSE(manifest.empty());
      FlipBytes(manifest, fs::file_size(manifest) / 2, 8);
      break;
    }
    case Damage::kMissingCurrent:
      fs::remove(MailboxDir() + "/CURRENT");
      before.erase(std::find(before.begin(), before.end(), "CURRENT"));
      break;
  }
  StartMailbox();

  ASSERT_TRUE(WaitServed(kMessages, absl::Seconds(90)));
  ExpectRestoredFrom(backup_id);
  // Nothing deleted: every file the damaged table had is in quarantine.
  const std::vector<std::string> kept = Quarantined(DataDir(), "agent_mailbox");
  for (const auto& f : before) {
    if (f == "LOCK" || f == "LOG" || f == "LOG.old") continue;
    // A truncated file is only found at the first read, after LevelDB has
    // opened the table and retired its old log and MANIFEST as usual.
    if (GetParam() == Damage::kTruncatedTableFile && fs::path(f).extension() != ".ldb") continue;
    EXPECT_THAT(kept, ::testing::Contains(f));
  }
}

INSTANTIATE_TEST_SUITE_P(Faults, AtRestDamageTest,
                         ::testing::Values(Damage::kTruncatedTableFile, Damage::kDeletedTableFile,
                                           Damage::kCorruptedManifest, Damage::kMissingCurrent),
                         DamageName);

// Garbage after the last record of the write-ahead log is what a write torn
// by a crash looks like. LevelDB's log reader drops an incomplete record at
// the end of the log, so the store opens with every acknowledged write,
// including those made after the last backup, and no restore is needed.
TEST_F(FaultTest, GarbageAppendedToTheWriteAheadLogKeepsEveryAcknowledgedWrite) {
  system_->EnqueueMessages(kMessages);
  ASSERT_FALSE(system_->CompactAndBackUpMailbox().empty());
  system_->EnqueueMessages(25);  // only in the log
  StopMailbox();
  const std::string log = NewestWithExtension(MailboxDir(), ".log");
  ASSERT_FALSE(log.empty());
  ASSERT_GT(fs::file_size(log), 0u);
  {
    std::mt19937 random(8);
    std::ofstream out(log, std::ios::app | std::ios::binary);
    for (int i = 0; i < 3000; ++i) out.put(static_cast<char>(random()));
  }
  StartMailbox();
  ASSERT_TRUE(WaitServed(kMessages + 25, absl::Seconds(30)));
  EXPECT_EQ(CountEvents("corruption_detected"), 0);
  EXPECT_EQ(CountEvents("recovery_started"), 0);
}

// ------------------------------------------------------------ damaged backups

TEST_F(FaultTest, ACorruptedNewestBackupFallsBackToTheOlderOne) {
  system_->EnqueueMessages(kMessages);
  const std::string older = system_->CompactAndBackUpMailbox();
  system_->EnqueueMessages(500);
  const std::string newest = system_->CompactAndBackUpMailbox();
  ASSERT_NE(older, newest);
  // Its largest table file, which the compaction wrote after the older
  // backup was taken: in the pool, but listed by the newest backup only.
  const std::string data =
      testing::LargestBackupTableFile(system_->topology().backup_dir(), "agent_mailbox", newest);
  FlipBytes(data, fs::file_size(data) / 2, 8);

  ASSERT_EQ(system_->CorruptMailboxAndRead().error_code(), grpc::StatusCode::UNAVAILABLE);
  // The older backup plus the writes after it, replayed from the logs.
  ASSERT_TRUE(WaitServed(kMessages + 500, absl::Seconds(90)));
  ExpectRestoredFrom(older);
  // The damaged backup is kept for the operator, not deleted.
  EXPECT_TRUE(fs::exists(data));
}

// A crash in the middle of a backup leaves a temporary directory. Restores
// never use it; the next backup removes it once it is old enough that no
// snapshot can still be writing it, and leaves a young one alone.
TEST_F(FaultTest, AHalfWrittenBackupIsIgnoredAndCleanedUp) {
  system_->EnqueueMessages(kMessages);
  const std::string backup_id = system_->CompactAndBackUpMailbox();
  const std::string root = system_->topology().backup_dir() + "/agent_mailbox";
  const std::string stale = root + "/" + storage::kTempPrefix + "crashed";
  const std::string young = root + "/" + storage::kTempPrefix + "in-progress";
  for (const auto& dir : {stale, young}) {
    fs::create_directories(dir);
    std::ofstream(dir + "/data-000001.ldb") << std::string(5000, 'x');
  }
  RunCommand(absl::StrCat("touch -d '10 minutes ago' ", stale, " ", stale, "/data-000001.ldb"));

  ASSERT_EQ(system_->CorruptMailboxAndRead().error_code(), grpc::StatusCode::UNAVAILABLE);
  ASSERT_TRUE(WaitServed(kMessages, absl::Seconds(90)));
  ExpectRestoredFrom(backup_id);

  EXPECT_FALSE(system_->CompactAndBackUpMailbox().empty());
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(young));
}

// --------------------------------------------------------- killed processes

class SigkillTest : public FaultTest, public ::testing::WithParamInterface<common::v1::Durability> {
 protected:
  void SetUp() override {
    SupervisedSystem::Options options;
    options.customize = [](config::Topology* t) {
      t->mutable_storage()->set_durability(GetParam());
    };
    StartSystem(options);
  }
};

// A writer keeps enqueueing while the mailbox store is SIGKILLed 20 times
// (supervisord restarts it each time). Every write the client saw
// acknowledged is there afterwards, with its sequence number and body: no
// loss, no sequence reused. In `buffered` mode writes reach the OS before
// the acknowledgement, so a killed process loses nothing either (a power
// cut could lose up to flush_interval_ms, which this cannot show).
TEST_P(SigkillTest, EveryAcknowledgedWriteSurvivesTwentyKills) {
  std::atomic<bool> stop{false};
  std::map<uint64_t, std::string> acked;
  int refused = 0;
  std::thread writer([&] {
    auto stub = mbx::Mailbox::NewStub(system_->Channel("mailbox"));
    for (int i = 0; !stop; ++i) {
      grpc::ClientContext ctx;
      Authorize(&ctx, system_->agent_token());
      ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
      mbx::EnqueueRequest r;
      r.set_agent_id("alice");
      r.mutable_message()->set_body(absl::StrCat("write-", i));
      mbx::EnqueueResponse out;
      if (stub->Enqueue(&ctx, r, &out).ok()) {
        acked[out.seq()] = r.message().body();
      } else {
        ++refused;
        absl::SleepFor(absl::Milliseconds(10));
      }
    }
  });
  for (int kill_no = 0; kill_no < 20; ++kill_no) {
    // Past supervisord's startsecs, so a kill counts as a crash and not as
    // a failed start (five of those and supervisord gives up: FATAL).
    ASSERT_TRUE(system_->WaitRunning("mailbox", absl::Seconds(30)));
    absl::SleepFor(absl::Milliseconds(300));
    const pid_t pid = system_->ProgramPid("mailbox");
    ASSERT_GT(pid, 0);
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    absl::SleepFor(absl::Milliseconds(200));
  }
  ASSERT_TRUE(system_->WaitRunning("mailbox", absl::Seconds(30)));
  ASSERT_TRUE(system_->WaitServing(absl::Seconds(30)));
  absl::SleepFor(absl::Milliseconds(500));
  stop = true;
  writer.join();

  size_t count = 0;
  std::vector<mbx::Message> messages;
  ASSERT_TRUE(PollAll(&count, &messages).ok());
  std::map<uint64_t, std::string> stored;
  for (const auto& m : messages) stored[m.seq()] = m.body();
  int missing = 0;
  for (const auto& [seq, body] : acked) {
    auto it = stored.find(seq);
    if (it == stored.end() || it->second != body) ++missing;
  }
  std::cout << "[ MEASURED ] " << acked.size() << " writes acknowledged, " << refused
            << " refused while the store restarted, " << missing << " lost, " << stored.size()
            << " stored\n";
  EXPECT_GT(acked.size(), 100u);
  EXPECT_GT(refused, 0);  // the kills really interrupted the writer
  EXPECT_EQ(missing, 0);
  // No corruption from a kill: nothing was restored.
  EXPECT_EQ(CountEvents("recovery_started"), 0);
}

INSTANTIATE_TEST_SUITE_P(Faults, SigkillTest,
                         ::testing::Values(common::v1::DURABILITY_SYNC,
                                           common::v1::DURABILITY_BUFFERED),
                         [](const auto& info) {
                           return info.param == common::v1::DURABILITY_SYNC ? "Sync" : "Buffered";
                         });

class KillMaintenanceTest : public FaultTest, public ::testing::WithParamInterface<const char*> {
 protected:
  void SetUp() override {
    marker_ = dir_.Sub("killed-at-step");
    SupervisedSystem::Options options;
    options.environment["maintenance"] =
        absl::StrCat("AGENTCOM_FAULT_KILL_AT=\"", GetParam(), ":", marker_, "\"");
    StartSystem(options);
  }
  std::string marker_;
};

// Maintenance is SIGKILLed right after it journals each step of a restore
// (stopping the store, quarantining, installing, starting, verifying, and
// serving: the restored table verified and serving agents, which the
// restarted maintenance must leave alone).
// supervisord restarts it; it finds the journal, finishes the restore, and
// no store is left stopped.
TEST_P(KillMaintenanceTest, TheRestoreCompletesAfterTheRestart) {
  system_->EnqueueMessages(kMessages);
  const std::string backup_id = system_->CompactAndBackUpMailbox();
  ASSERT_EQ(system_->CorruptMailboxAndRead().error_code(), grpc::StatusCode::UNAVAILABLE);
  // The table may serve again before the kill (after "starting"), so wait
  // for the restore to be recorded as complete, by the restarted process.
  auto complete = WaitForEvent("recovery_complete", absl::Seconds(120));
  ASSERT_TRUE(complete.has_value());
  EXPECT_EQ(ReadFile(marker_), GetParam());  // it really died there
  ASSERT_TRUE(WaitServed(kMessages, absl::Seconds(30)));
  ASSERT_TRUE(system_->WaitServing(absl::Seconds(30)));
  EXPECT_EQ(complete->details().at("backup_id"), backup_id);
  ExpectNothingLeftHalfDone();
}

INSTANTIATE_TEST_SUITE_P(Faults, KillMaintenanceTest,
                         ::testing::Values("stopping", "quarantining", "installing", "starting",
                                           "verifying", "serving"));

// A process SIGKILLed in the middle of a backup or a compaction (the system
// starts with the fault armed; each test then triggers it).
class KilledMidOperationTest : public FaultTest {
 protected:
  void SetUp() override {}
  void StartWithKill(const std::string& program, const std::string& point) {
    marker_ = dir_.Sub("killed-at-" + point);
    SupervisedSystem::Options options;
    options.environment[program] =
        absl::StrCat("AGENTCOM_FAULT_KILL_AT=\"", point, ":", marker_, "\"");
    StartSystem(options);
  }
  grpc::Status BackUpMailbox(std::string* id) {
    grpc::ClientContext ctx;
    Admin(&ctx);
    mnt::BackupTableRequest r;
    r.set_table("agent_mailbox");
    mnt::BackupRun run;
    grpc::Status s = maintenance_->BackupTable(&ctx, r, &run);
    if (s.ok() && run.results_size() == 1 && !run.results(0).ok()) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, run.results(0).error());
    }
    if (s.ok() && id) *id = run.results(0).backup_id();
    return s;
  }
  // The backups' directories, without the shared pool of table files.
  std::vector<std::string> BackupDirs() {
    std::vector<std::string> dirs = FilesIn(system_->topology().backup_dir() + "/agent_mailbox");
    for (const char* shared : {storage::kPoolDir, storage::kShippedWalDir}) {
      dirs.erase(std::remove(dirs.begin(), dirs.end(), shared), dirs.end());
    }
    return dirs;
  }
  std::string marker_;
};

// The store dies after writing a backup's files but before committing it:
// the backup fails, a temporary directory is left, the store restarts with
// its data, the partial backup is never listed or restored from, and the
// next backup works.
TEST_F(KilledMidOperationTest, AStoreKilledDuringSnapshotLeavesOnlyAnIgnoredPartial) {
  StartWithKill("mailbox", "snapshot");
  system_->EnqueueMessages(kMessages);
  EXPECT_EQ(BackUpMailbox(nullptr).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(ReadFile(marker_), "snapshot");
  ASSERT_TRUE(system_->WaitRunning("mailbox", absl::Seconds(30)));
  ASSERT_TRUE(WaitServed(kMessages, absl::Seconds(30)));
  std::vector<std::string> dirs = BackupDirs();
  ASSERT_EQ(dirs.size(), 1u);
  EXPECT_TRUE(absl::StartsWith(dirs[0], storage::kTempPrefix)) << dirs[0];
  EXPECT_TRUE(storage::ListBackups(system_->topology().backup_dir(), "agent_mailbox")->empty());

  std::string id;
  ASSERT_TRUE(BackUpMailbox(&id).ok());
  ASSERT_EQ(system_->CorruptMailboxAndRead().error_code(), grpc::StatusCode::UNAVAILABLE);
  ASSERT_TRUE(WaitServed(kMessages, absl::Seconds(90)));
  ExpectRestoredFrom(id);
}

// The store dies in the middle of shipping its logs (bytes appended to a
// shipped copy, not fsynced, later logs not shipped). The restarted store
// continues the copies, and when the data directory is then lost the backup
// plus the shipped logs alone bring back every acknowledged write, with no
// operator involved.
TEST_F(KilledMidOperationTest, AStoreKilledWhileShippingLogsLosesNothing) {
  StartWithKill("mailbox", "shipping");
  // A message now and then, so that some round appends to a copy.
  size_t acknowledged = 0;
  for (const absl::Time deadline = absl::Now() + absl::Seconds(30);
       ReadFile(marker_) != "shipping";) {
    ASSERT_LT(absl::Now(), deadline) << "the store never reached the shipping kill point";
    grpc::ClientContext ctx;
    Authorize(&ctx, system_->agent_token());
    mailbox::v1::EnqueueRequest r;
    r.set_agent_id("alice");
    r.mutable_message()->set_body("before the kill");
    mailbox::v1::EnqueueResponse out;
    acknowledged += mailbox_->Enqueue(&ctx, r, &out).ok();
    absl::SleepFor(absl::Milliseconds(200));
  }
  ASSERT_GT(acknowledged, 0u);
  ASSERT_TRUE(system_->WaitRunning("mailbox", absl::Seconds(30)));
  ASSERT_TRUE(WaitServed(acknowledged, absl::Seconds(30)));
  std::string id;
  ASSERT_TRUE(BackUpMailbox(&id).ok());
  system_->EnqueueMessages(kMessages);
  ASSERT_NO_FATAL_FAILURE(WaitLogsShipped("agent_mailbox"));
  // The lost table is restored automatically (its shipped logs show it
  // held data, so its store does not serve it empty).
  ASSERT_NO_FATAL_FAILURE(LoseMailboxDataDirectory());
  ASSERT_TRUE(WaitServed(kMessages + acknowledged, absl::Seconds(60)));
  auto complete = WaitForEvent("recovery_complete", absl::Seconds(10));
  ASSERT_TRUE(complete.has_value());
  EXPECT_EQ(complete->details().at("backup_id"), id);
  EXPECT_EQ(complete->details().at("lost_operations"), "0");
}

// Maintenance dies after the store wrote a backup but before verifying it.
// The backup is complete; after the restart it is verified when a restore
// needs it, and used.
TEST_F(KilledMidOperationTest, MaintenanceKilledDuringABackupLeavesAUsableBackup) {
  StartWithKill("maintenance", "backup");
  system_->EnqueueMessages(kMessages);
  EXPECT_EQ(BackUpMailbox(nullptr).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(ReadFile(marker_), "backup");
  ASSERT_TRUE(system_->WaitRunning("maintenance", absl::Seconds(30)));
  ASSERT_TRUE(system_->WaitServing(absl::Seconds(30)));
  auto ids = storage::ListBackups(system_->topology().backup_dir(), "agent_mailbox");
  ASSERT_TRUE(ids.ok());
  ASSERT_EQ(ids->size(), 1u);
  {  // move the records into table files, where the bytes get flipped
    grpc::ClientContext ctx;
    Admin(&ctx);
    mnt::CompactTableRequest r;
    r.set_table("agent_mailbox");
    mnt::CompactionRun run;
    ASSERT_TRUE(maintenance_->CompactTable(&ctx, r, &run).ok());
  }
  ASSERT_EQ(system_->CorruptMailboxAndRead().error_code(), grpc::StatusCode::UNAVAILABLE);
  ASSERT_TRUE(WaitServed(kMessages, absl::Seconds(90)));
  ExpectRestoredFrom(ids->front());
}

// Maintenance dies after a compaction finished but before recording it: the
// store keeps serving every record, and compaction works after the restart.
TEST_F(KilledMidOperationTest, MaintenanceKilledDuringACompactionLosesNothing) {
  StartWithKill("maintenance", "compaction");
  system_->EnqueueMessages(kMessages);
  grpc::ClientContext ctx;
  Admin(&ctx);
  mnt::CompactTableRequest r;
  r.set_table("agent_mailbox");
  mnt::CompactionRun run;
  EXPECT_EQ(maintenance_->CompactTable(&ctx, r, &run).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(ReadFile(marker_), "compaction");
  ASSERT_TRUE(system_->WaitRunning("maintenance", absl::Seconds(30)));
  ASSERT_TRUE(system_->WaitServing(absl::Seconds(30)));
  ASSERT_TRUE(WaitServed(kMessages, absl::Seconds(10)));
  EXPECT_FALSE(system_->CompactAndBackUpMailbox().empty());
  EXPECT_EQ(CountEvents("corruption_detected"), 0);
}

// Maintenance dies in the middle of installing a restore and, before the
// restore is finished, supervisord and every program go down and come back
// (a host reboot): the restarted maintenance finishes the restore from its
// journal; the writes made after the backup come back from the logs, and
// nothing is left stopped or half-done.
TEST_F(KilledMidOperationTest, ARestoreInterruptedByMaintenanceAndASupervisordRestartFinishes) {
  StartWithKill("maintenance", "installing");
  system_->EnqueueMessages(kMessages);
  const std::string backup_id = system_->CompactAndBackUpMailbox();
  system_->EnqueueMessages(500);  // after the backup: only in the logs
  ASSERT_EQ(system_->CorruptMailboxAndRead().error_code(), grpc::StatusCode::UNAVAILABLE);
  for (int i = 0; i < 600 && !fs::exists(marker_); ++i) absl::SleepFor(absl::Milliseconds(100));
  ASSERT_EQ(ReadFile(marker_), "installing");
  system_->RestartSupervisord();

  auto complete = WaitForEvent("recovery_complete", absl::Seconds(120));
  ASSERT_TRUE(complete.has_value());
  EXPECT_EQ(complete->details().at("backup_id"), backup_id);
  ASSERT_TRUE(system_->WaitServing(absl::Seconds(60)));
  ASSERT_TRUE(WaitServed(kMessages + 500, absl::Seconds(30)));
  ExpectNothingLeftHalfDone();
}

// ------------------------------------------------- the supervisor unreachable

// supervisord is frozen (SIGSTOP: it accepts connections and never answers)
// while a restore needs it. The restore fails with a clear error, counted in
// agentcom_recoveries_total{result="failed"} (alert AgentcomRecoveryFailed),
// and is retried; once supervisord answers again the table is restored.
TEST_F(FaultTest, SupervisordUnreachableDuringARestoreIsRetriedUntilItAnswers) {
  system_->EnqueueMessages(kMessages);
  const std::string backup_id = system_->CompactAndBackUpMailbox();
  const pid_t supervisord = system_->supervisord_pid();
  ASSERT_EQ(kill(supervisord, SIGSTOP), 0);
  struct Resume {
    pid_t pid;
    ~Resume() { kill(pid, SIGCONT); }
  } resume{supervisord};

  ASSERT_EQ(system_->CorruptMailboxAndRead().error_code(), grpc::StatusCode::UNAVAILABLE);
  auto failed = WaitForEvent("recovery_failed", absl::Seconds(60));
  ASSERT_TRUE(failed.has_value());
  EXPECT_THAT(failed->message(), HasSubstr("supervisord"));
  EXPECT_THAT(MaintenanceMetrics(),
              HasSubstr("agentcom_recoveries_total{result=\"failed\",table=\"agent_mailbox\","
                        "trigger=\"auto\"} 1"));
  size_t count = 0;
  EXPECT_EQ(PollAll(&count).error_code(), grpc::StatusCode::UNAVAILABLE);  // still refused

  ASSERT_EQ(kill(supervisord, SIGCONT), 0);
  ASSERT_TRUE(WaitServed(kMessages, absl::Seconds(120)));
  auto complete = WaitForEvent("recovery_complete", absl::Seconds(10));
  ASSERT_TRUE(complete.has_value());
  EXPECT_EQ(complete->details().at("backup_id"), backup_id);
}

// --------------------------------------------------------------- disk full

// The data directory is a small tmpfs. Writes fail with RESOURCE_EXHAUSTED,
// nothing is taken for corruption (no restore), every acknowledged write
// stays readable, the other stores keep serving, and writes succeed again
// once space is freed.
class DiskFullTest : public FaultTest {
 protected:
  void SetUp() override {
    disk_ = std::make_unique<TmpfsMount>(dir_.Sub("data"), 48);
    if (!disk_->ok()) GTEST_SKIP() << disk_->error();
    StartSystem(SupervisedSystem::Options());
  }
  void TearDown() override {
    FaultTest::TearDown();
    system_.reset();  // before the file system goes
    disk_.reset();
  }
  std::unique_ptr<TmpfsMount> disk_;
};

TEST_F(DiskFullTest, WritesAreRefusedWithoutARestoreAndResumeWhenSpaceIsFreed) {
  const std::string filler = dir_.Sub("data/filler");
  {
    std::ofstream out(filler, std::ios::binary);
    const std::string mb(1 << 20, 'f');
    for (int i = 0; i < 20; ++i) out << mb;
  }
  auto stub = mbx::Mailbox::NewStub(system_->Channel("mailbox"));
  auto enqueue = [&](int i) {
    grpc::ClientContext ctx;
    Authorize(&ctx, system_->agent_token());
    mbx::EnqueueRequest r;
    r.set_agent_id("alice");
    r.mutable_message()->set_body(absl::StrCat(i, ":", std::string(64 << 10, 'd')));
    mbx::EnqueueResponse out;
    return stub->Enqueue(&ctx, r, &out);
  };
  int acked = 0;
  grpc::Status full;
  while (acked < 2000 && (full = enqueue(acked)).ok()) ++acked;
  ASSERT_EQ(full.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << full.error_message();
  EXPECT_THAT(full.error_message(), HasSubstr("agent_mailbox"));
  EXPECT_GT(acked, 10);
  EXPECT_EQ(enqueue(acked).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);

  size_t count = 0;
  grpc::Status polled = PollAll(&count);
  ASSERT_TRUE(polled.ok()) << polled.error_message();
  EXPECT_EQ(count, size_t(acked));
  EXPECT_TRUE(system_->WaitServing(absl::Seconds(5)));  // every store still up
  EXPECT_EQ(CountEvents("corruption_detected"), 0);

  fs::remove(filler);
  grpc::Status again = enqueue(acked);
  ASSERT_TRUE(again.ok()) << again.error_message();
  ASSERT_TRUE(PollAll(&count).ok());
  EXPECT_EQ(count, size_t(acked + 1));
  EXPECT_EQ(CountEvents("corruption_detected"), 0);
  EXPECT_EQ(CountEvents("recovery_started"), 0);
  // The table verifies after the episode.
  grpc::ClientContext ctx;
  Admin(&ctx);
  mnt::GetHealthResponse health;
  ASSERT_TRUE(maintenance_->GetHealth(&ctx, {}, &health).ok());
  for (const auto& t : health.tables()) {
    EXPECT_EQ(t.stats().state(), common::v1::TABLE_STATE_OK) << t.stats().table();
  }
}

}  // namespace
}  // namespace agentcom::testing
