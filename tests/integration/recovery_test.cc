// Automatic recovery end to end (issue 4): a real supervisord, the real
// store and maintenance binaries, real files. Bytes are flipped in a live
// table file; the store detects it on a read, maintenance restores the table
// through supervisord from the newest verified backup plus the writes after
// it replayed from the write-ahead logs (issue 14), and the table serves every
// record again. Also: degraded mode when every backup is damaged, and the
// admin API with and without the admin token.
#include <grpcpp/client_context.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "agentcom/mailbox/v1/mailbox.grpc.pb.h"
#include "agentcom/maintenance/v1/maintenance.grpc.pb.h"
#include "common/storage/backup.h"
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

constexpr int kMessages = 3000;

class RecoveryTest : public SystemTest {};

TEST_F(RecoveryTest, FlippedBytesInALiveTableAreRestoredAutomatically) {
  system_->EnqueueMessages(kMessages);
  const std::string backup_id = system_->CompactAndBackUpMailbox();
  ASSERT_FALSE(backup_id.empty());
  system_->EnqueueMessages(10);  // after the backup: replayed from the write-ahead log (issue 14)

  FlipBytesInLargestTableFile(DataDir() + "/agent_mailbox");
  size_t count = 0;
  const absl::Time detected = absl::Now();
  grpc::Status first = PollAll(&count);
  ASSERT_EQ(first.error_code(), grpc::StatusCode::UNAVAILABLE) << first.error_message();
  EXPECT_THAT(first.error_message(), HasSubstr("agent_mailbox"));

  // No operator action from here on.
  absl::Time served;
  while (true) {
    grpc::Status s = PollAll(&count);
    if (s.ok() && count == kMessages + 10) {
      served = absl::Now();
      break;
    }
    ASSERT_LT(absl::Now() - detected, absl::Seconds(90)) << s.error_message() << " count " << count;
    absl::SleepFor(absl::Milliseconds(100));
  }
  std::cout << "[ MEASURED ] detection to verified serving: "
            << absl::FormatDuration(served - detected) << " for " << kMessages << " records\n";

  auto complete = WaitForEvent("recovery_complete", absl::Seconds(10));
  ASSERT_TRUE(complete.has_value());
  EXPECT_EQ(complete->table(), "agent_mailbox");
  EXPECT_EQ(complete->details().at("trigger"), "auto");
  EXPECT_EQ(complete->details().at("backup_id"), backup_id);
  EXPECT_EQ(complete->details().at("lost_operations"), "0");
  EXPECT_GT(std::stoi(complete->details().at("replayed_operations")), 10);
  EXPECT_TRUE(WaitForEvent("corruption_detected", absl::Seconds(1)).has_value());

  // The corrupted files are kept in quarantine.
  int quarantined = 0;
  for (const auto& e : fs::directory_iterator(DataDir() + "/quarantine")) {
    EXPECT_THAT(e.path().filename().string(), HasSubstr("agent_mailbox-"));
    for (const auto& f : fs::directory_iterator(e.path()))
      quarantined += f.path().extension() == ".ldb";
  }
  EXPECT_GT(quarantined, 0);

  const std::string metrics = HttpGet(system_->MaintenanceMetricsPort(), "/metrics");
  EXPECT_THAT(metrics, HasSubstr("agentcom_recoveries_total{result=\"restored\",table=\"agent_"
                                 "mailbox\",trigger=\"auto\"} 1"));
  EXPECT_THAT(metrics, HasSubstr("agentcom_corruption_reports_total{table=\"agent_mailbox\"} 1"));
  EXPECT_THAT(metrics,
              HasSubstr("agentcom_recovery_duration_seconds_count{table=\"agent_mailbox\"} 1"));
}

TEST_F(RecoveryTest, WithEveryBackupDamagedTheTableIsDegradedAndNothingIsDeleted) {
  system_->EnqueueMessages(kMessages);
  const std::string backup_id = system_->CompactAndBackUpMailbox();
  ASSERT_FALSE(backup_id.empty());
  const std::string data_file =
      testing::LargestBackupTableFile(system_->topology().backup_dir(), "agent_mailbox", backup_id);
  FlipBytes(data_file, fs::file_size(data_file) / 2, 8);
  FlipBytesInLargestTableFile(DataDir() + "/agent_mailbox");

  size_t count = 0;
  ASSERT_EQ(PollAll(&count).error_code(), grpc::StatusCode::UNAVAILABLE);
  auto failed = WaitForEvent("recovery_failed", absl::Seconds(90));
  ASSERT_TRUE(failed.has_value());
  EXPECT_EQ(failed->details().at("trigger"), "auto");
  EXPECT_THAT(failed->message(), HasSubstr("restarted empty"));

  // The store serves again, empty, in state degraded.
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  grpc::Status s;
  while (!(s = PollAll(&count)).ok() && absl::Now() < deadline)
    absl::SleepFor(absl::Milliseconds(100));
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(count, 0u);
  // Maintenance reports the table restoring until its restore job is done
  // (it backs up the restored table first), a moment after the store serves.
  common::v1::TableState state = common::v1::TABLE_STATE_UNSPECIFIED;
  for (int i = 0; i < 300 && state != common::v1::TABLE_STATE_DEGRADED; ++i) {
    if (i > 0) absl::SleepFor(absl::Milliseconds(100));
    grpc::ClientContext ctx;
    Admin(&ctx);
    mnt::GetHealthResponse health;
    ASSERT_TRUE(maintenance_->GetHealth(&ctx, {}, &health).ok());
    for (const auto& t : health.tables()) {
      if (t.stats().table() == "agent_mailbox") state = t.stats().state();
    }
  }
  EXPECT_EQ(state, common::v1::TABLE_STATE_DEGRADED);
  // Nothing deleted: the damaged backup and the corrupted files both remain.
  EXPECT_TRUE(fs::exists(data_file));
  bool quarantined = false;
  for (const auto& e : fs::directory_iterator(DataDir() + "/quarantine")) {
    for (const auto& f : fs::directory_iterator(e.path()))
      quarantined |= f.path().extension() == ".ldb";
  }
  EXPECT_TRUE(quarantined);
  EXPECT_THAT(HttpGet(system_->MaintenanceMetricsPort(), "/metrics"),
              HasSubstr("agentcom_table_degraded{table=\"agent_mailbox\"} 1"));
}

// Issue 14: the store ships its write-ahead logs to the backup directory
// every wal_ship_interval_ms, so losing the table's whole data directory
// loses at most that interval: a restore takes the backup plus the shipped
// logs of its history.
TEST_F(RecoveryTest, ALostDataDirectoryComesBackFromTheBackupAndTheShippedLogs) {
  system_->EnqueueMessages(kMessages);
  const std::string backup_id = system_->CompactAndBackUpMailbox();
  ASSERT_FALSE(backup_id.empty());
  system_->EnqueueMessages(500);  // after the backup: only in the logs
  ASSERT_NO_FATAL_FAILURE(WaitLogsShipped("agent_mailbox"));

  // The data directory is lost while the store is down; supervisord starts
  // it again. The store does not serve an empty table in its place: the
  // table's shipped logs show it held data, so it is lost, and maintenance
  // restores it with no operator involved.
  ASSERT_NO_FATAL_FAILURE(LoseMailboxDataDirectory());
  EXPECT_TRUE(WaitServed(kMessages + 500, absl::Seconds(60)));
  auto complete = WaitForEvent("recovery_complete", absl::Seconds(10));
  ASSERT_TRUE(complete.has_value());
  EXPECT_EQ(complete->details().at("trigger"), "auto");
  EXPECT_EQ(complete->details().at("backup_id"), backup_id);
  EXPECT_EQ(complete->details().at("lost_operations"), "0");
  EXPECT_GE(std::stoi(complete->details().at("replayed_operations")), 500);
}

// Issue 16: an agent's mistake undone with the operator's tools. 1,000
// messages acknowledged after the backup, the time noted, then half of them
// deleted through the agent API (Ack); a point-in-time restore through
// agentcom_grpcurl brings back exactly what the table held at the noted time
// (record count and content hash as the store itself computes them), sequence
// numbers are not reused, and the restore is itself undone the same way.
TEST_F(RecoveryTest, APointInTimeRestoreThroughGrpcurlUndoesAMistakeAndIsItselfUndoable) {
  system_->EnqueueMessages(200);
  ASSERT_FALSE(system_->CompactAndBackUpMailbox().empty());
  system_->EnqueueMessages(1000);
  absl::SleepFor(absl::Milliseconds(20));
  const absl::Time noted = absl::Now();
  const store_admin::v1::VerifyResponse at_noted = VerifyMailbox();
  ASSERT_EQ(at_noted.record_count(), 1200u + 1);  // the messages and alice's sequence
  absl::SleepFor(absl::Milliseconds(20));
  {
    grpc::ClientContext ctx;
    Authorize(&ctx, system_->agent_token());
    mbx::AckRequest ack;
    ack.set_agent_id("alice");
    ack.set_up_to_seq(600);
    mbx::AckResponse acked;
    ASSERT_TRUE(mailbox_->Ack(&ctx, ack, &acked).ok());
    ASSERT_EQ(acked.deleted(), 600u);
  }
  const uint64_t last_seq = Enqueue("alice");
  ASSERT_EQ(last_seq, 1201u);
  absl::SleepFor(absl::Milliseconds(20));
  const absl::Time after_mistake = absl::Now();
  const store_admin::v1::VerifyResponse mistaken = VerifyMailbox();
  absl::SleepFor(absl::Milliseconds(20));

  auto restore = [&](absl::Time to, bool dry_run) {
    int status = -1;
    const std::string out = RunCommand(
        absl::StrCat(
            AGENTCOM_BIN_DIR,
            "/agentcom_grpcurl -plaintext -max-time 120 -H "
            "\"authorization: Bearer ",
            system_->admin_token(), "\" -d '{\"table\":\"agent_mailbox\",\"target_time\":\"",
            absl::FormatTime(absl::RFC3339_full, to, absl::UTCTimeZone()), "\"",
            dry_run ? ",\"dry_run\":true" : "", "}' ", system_->topology().maintenance().address(),
            " agentcom.maintenance.v1.Maintenance/RestoreTable"),
        &status);
    EXPECT_EQ(status, 0) << out;
    return out;
  };
  const std::string preview = restore(noted, true);
  EXPECT_THAT(preview, HasSubstr("\"dryRun\": true"));
  EXPECT_THAT(preview, HasSubstr("\"recordCount\": \"1201\""));
  EXPECT_EQ(VerifyMailbox().content_hash(), mistaken.content_hash());  // untouched

  const std::string restored = restore(noted, false);
  EXPECT_THAT(restored, HasSubstr("RESTORE_OUTCOME_RESTORED"));
  EXPECT_THAT(restored, HasSubstr("\"leftOutBatches\": \"2\""));  // the Ack, the Enqueue
  EXPECT_THAT(restored, HasSubstr("\"restoredToTime\""));
  store_admin::v1::VerifyResponse back = VerifyMailbox();
  EXPECT_EQ(back.record_count(), at_noted.record_count());
  EXPECT_EQ(back.content_hash(), at_noted.content_hash());
  size_t count = 0;
  ASSERT_TRUE(PollAll(&count).ok());
  EXPECT_EQ(count, 1200u);
  // Seq 1201 was handed out for a message left out: never again.
  EXPECT_GT(Enqueue("alice"), last_seq);

  // Undone: back to just after the mistake (the table that held it is in
  // quarantine, and its logs come back from there).
  const std::string undone = restore(after_mistake, false);
  EXPECT_THAT(undone, HasSubstr("RESTORE_OUTCOME_RESTORED"));
  back = VerifyMailbox();
  EXPECT_EQ(back.record_count(), mistaken.record_count());
  EXPECT_EQ(back.content_hash(), mistaken.content_hash());
}

TEST_F(RecoveryTest, ManualRestoreAndCompactAllNeedTheAdminToken) {
  system_->EnqueueMessages(100);
  const std::string backup_id = system_->CompactAndBackUpMailbox();
  system_->EnqueueMessages(5);
  for (const std::string& token : {std::string(""), system_->agent_token()}) {
    grpc::ClientContext ctx;
    if (!token.empty()) Authorize(&ctx, token);
    mnt::RestoreTableRequest r;
    r.set_table("agent_mailbox");
    mnt::RestoreResult out;
    EXPECT_EQ(
        maintenance_->RestoreTable(&ctx, r, &out).error_code(),
        token.empty() ? grpc::StatusCode::UNAUTHENTICATED : grpc::StatusCode::PERMISSION_DENIED);
    grpc::ClientContext cctx;
    if (!token.empty()) Authorize(&cctx, token);
    mnt::CompactionRun run;
    EXPECT_EQ(
        maintenance_->CompactAll(&cctx, {}, &run).error_code(),
        token.empty() ? grpc::StatusCode::UNAUTHENTICATED : grpc::StatusCode::PERMISSION_DENIED);
  }

  mnt::RestoreResult restored;
  ASSERT_NO_FATAL_FAILURE(RestoreMailbox(&restored));
  EXPECT_EQ(restored.backup_id(), backup_id);
  // 105 messages (5 replayed from the log) + alice's sequence record.
  EXPECT_EQ(restored.record_count(), 106u);
  EXPECT_GT(restored.size_bytes(), 0u);
  EXPECT_EQ(restored.trigger(), "manual");
  size_t count = 0;
  ASSERT_TRUE(PollAll(&count).ok());
  EXPECT_EQ(count, 105u);

  grpc::ClientContext cctx;
  Admin(&cctx);
  mnt::CompactAllRequest all;
  all.set_force(true);
  mnt::CompactionRun run;
  ASSERT_TRUE(maintenance_->CompactAll(&cctx, all, &run).ok());
  EXPECT_EQ(run.tables_total(), 9u);
  EXPECT_EQ(run.compacted(), 9u);

  grpc::ClientContext uctx;
  Admin(&uctx);
  mnt::RestoreTableRequest unknown;
  unknown.set_table("no_such_table");
  mnt::RestoreResult out;
  grpc::Status nf = maintenance_->RestoreTable(&uctx, unknown, &out);
  EXPECT_EQ(nf.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(nf.error_message(), HasSubstr("no_such_table"));
}

}  // namespace
}  // namespace agentcom::testing
