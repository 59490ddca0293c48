// Issue 16: backups off this host, against a real object store: OpenStack
// Swift with its S3 API (deploy/swift/start-swift.sh), under the whole
// system on a real supervisord.

#include <filesystem>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/system_fixture.h"
#include "tests/support/local_swift.h"

namespace agentcom::testing {
namespace {

using ::testing::HasSubstr;

class RemoteBackupSystemTest : public SystemTest {
 protected:
  void SetUp() override {
    swift_ = std::make_unique<LocalSwift>();
    ASSERT_TRUE(swift_->ok()) << "Swift did not start (deploy/swift/start-swift.sh)";
    SupervisedSystem::Options options;
    options.customize = [this](config::Topology* t) {
      topology::v1::RemoteBackup r = swift_->Config("agentcom-backups", "site-a");
      r.set_max_lag_seconds(5);
      *t->mutable_maintenance()->mutable_remote_backup() = r;
    };
    StartSystem(options);
  }

  maintenance::v1::ListBackupsResponse ListMailboxBackups() {
    grpc::ClientContext ctx;
    Admin(&ctx);
    maintenance::v1::ListBackupsRequest r;
    r.set_table("agent_mailbox");
    maintenance::v1::ListBackupsResponse out;
    grpc::Status s = maintenance_->ListBackups(&ctx, r, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  // Waits until every file the local backup directory held at `after` is
  // at the object store.
  void WaitRemoteThrough(absl::Time after) {
    maintenance::v1::ListBackupsResponse listed;
    for (const absl::Time deadline = absl::Now() + absl::Seconds(60);;) {
      listed = ListMailboxBackups();
      if (listed.remote_size() == 1 && listed.remote(0).has_through() &&
          listed.remote(0).through().seconds() > absl::ToUnixSeconds(after)) {
        return;
      }
      ASSERT_LT(absl::Now(), deadline) << listed.DebugString();
      absl::SleepFor(absl::Milliseconds(250));
    }
  }

  std::unique_ptr<LocalSwift> swift_;
};

// Backups and the shipped logs go up to Swift; then the table's data
// directory and the whole local backup directory are lost. The restore
// fetches from the object store alone and brings back every acknowledged
// write (all were in a shipped, uploaded log).
TEST_F(RemoteBackupSystemTest, ATableComesBackFromTheObjectStoreAloneWithEveryShippedWrite) {
  system_->EnqueueMessages(1000);
  const std::string backup_id = system_->CompactAndBackUpMailbox();
  ASSERT_FALSE(backup_id.empty());
  system_->EnqueueMessages(500);  // after the backup: only in the logs
  ASSERT_NO_FATAL_FAILURE(WaitLogsShipped("agent_mailbox"));
  ASSERT_NO_FATAL_FAILURE(WaitRemoteThrough(absl::Now()));
  const store_admin::v1::VerifyResponse before = VerifyMailbox();
  ASSERT_EQ(before.record_count(), 1500u + 1);  // and alice's sequence

  maintenance::v1::ListBackupsResponse listed = ListMailboxBackups();
  ASSERT_GE(listed.backups_size(), 1);
  EXPECT_TRUE(listed.backups(0).local());
  EXPECT_TRUE(listed.backups(0).remote());
  EXPECT_THAT(listed.remote(0).destination(),
              HasSubstr(absl::StrCat("s3://agentcom-backups/site-a at ", swift_->endpoint())));
  EXPECT_EQ(listed.remote(0).failures(), 0u);
  EXPECT_THAT(MaintenanceMetrics(),
              HasSubstr("agentcom_remote_backup_uploaded_bytes_total{table=\"agent_mailbox\"}"));

  system_->Supervisorctl("stop mailbox");
  std::filesystem::remove_all(DataDir() + "/agent_mailbox");
  std::filesystem::remove_all(system_->topology().backup_dir() + "/agent_mailbox");
  maintenance::v1::RestoreResult restored;
  ASSERT_NO_FATAL_FAILURE(RestoreMailbox(&restored));
  EXPECT_EQ(restored.outcome(), maintenance::v1::RESTORE_OUTCOME_RESTORED) << restored.reason();
  EXPECT_EQ(restored.backup_id(), backup_id);
  EXPECT_THAT(restored.fetched_from(), HasSubstr("s3://agentcom-backups/site-a"));
  EXPECT_EQ(restored.lost_operations(), 0u);
  const store_admin::v1::VerifyResponse after = VerifyMailbox();
  EXPECT_EQ(after.record_count(), before.record_count());
  EXPECT_EQ(after.content_hash(), before.content_hash());
  EXPECT_TRUE(WaitForEvent("backups_fetched", absl::Seconds(5)).has_value());
}

// The object store goes down: local backups go on, the remote status and
// metrics say what fails, and the remote copy catches up once it is back.
TEST_F(RemoteBackupSystemTest, WhileTheObjectStoreIsDownLocalBackupsGoOnAndTheRemoteCatchesUp) {
  system_->EnqueueMessages(200);
  ASSERT_FALSE(system_->CompactAndBackUpMailbox().empty());
  ASSERT_NO_FATAL_FAILURE(WaitRemoteThrough(absl::Now()));

  swift_->Stop();
  system_->EnqueueMessages(200);
  const std::string during = system_->CompactAndBackUpMailbox();
  ASSERT_FALSE(during.empty());  // the local backup does not wait for the remote
  maintenance::v1::ListBackupsResponse listed;
  for (const absl::Time deadline = absl::Now() + absl::Seconds(60);;) {
    listed = ListMailboxBackups();
    if (listed.remote(0).failures() > 0 && listed.remote(0).lag_seconds() > 5) break;
    ASSERT_LT(absl::Now(), deadline) << listed.DebugString();
    absl::SleepFor(absl::Milliseconds(250));
  }
  EXPECT_THAT(listed.remote(0).last_error(), HasSubstr("cannot be reached"));
  EXPECT_THAT(listed.remote(0).last_error(), HasSubstr(swift_->endpoint()));
  ASSERT_GE(listed.backups_size(), 2);
  EXPECT_EQ(listed.backups(0).backup_id(), during);
  EXPECT_TRUE(listed.backups(0).local());
  EXPECT_FALSE(listed.backups(0).remote());
  // What the AgentcomRemoteBackupBehind alert reads: the remote copy is
  // older than the configured bound (5 s here).
  const std::string metrics = MaintenanceMetrics();
  EXPECT_THAT(metrics, HasSubstr("agentcom_remote_backup_max_lag_seconds 5"));
  EXPECT_THAT(metrics, HasSubstr("agentcom_remote_backup_failures_total{table=\"agent_mailbox\"}"));

  swift_->Start();
  ASSERT_TRUE(swift_->ok());
  ASSERT_NO_FATAL_FAILURE(WaitRemoteThrough(absl::Now()));
  listed = ListMailboxBackups();
  EXPECT_TRUE(listed.backups(0).remote());
  EXPECT_EQ(listed.remote(0).pending_bytes(), 0u);
  EXPECT_EQ(listed.remote(0).last_error(), "");
}

}  // namespace
}  // namespace agentcom::testing
