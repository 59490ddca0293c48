// Operator tools (issue 13): supervisord.conf rendering, and agentcomctl
// verify-backup / restore run as an operator would, against real tables and
// backups on disk.
#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/config/topology.h"
#include "common/storage/backup.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/tools/supervisord_conf.h"
#include "tests/support/fake_maintenance.h"
#include "tests/support/test_support.h"

namespace agentcom::tools {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

TEST(SupervisordConfTest, OneProgramPerStorePlusMaintenanceAndGateway) {
  testing::TempDir dir;
  config::Topology topology = testing::MakeTopology(
      dir.path(),
      {{"mailbox", {"agent_mailbox"}}, {"task_queue", {"task_queue", "task_dead_letter"}}});
  const std::string conf = RenderSupervisordConf(topology, {.config_path = "/etc/agentcom.yaml",
                                                            .bin_dir = "/opt/bin",
                                                            .run_dir = "/run/a",
                                                            .password = "pw"});
  EXPECT_THAT(conf, HasSubstr("[program:mailbox]"));
  EXPECT_THAT(
      conf,
      HasSubstr("/opt/bin/agentcom_mailbox_store --config=/etc/agentcom.yaml --store=mailbox"));
  EXPECT_THAT(conf, HasSubstr("[program:task_queue]"));
  EXPECT_THAT(conf, HasSubstr("[program:maintenance]"));
  EXPECT_THAT(conf, HasSubstr("[program:gateway]"));
  EXPECT_THAT(conf, HasSubstr("password=pw"));
  EXPECT_EQ(conf, RenderSupervisordConf(topology, {.config_path = "/etc/agentcom.yaml",
                                                   .bin_dir = "/opt/bin",
                                                   .run_dir = "/run/a",
                                                   .password = "pw"}));  // deterministic
  const std::string stores_only = RenderSupervisordConf(topology, {.config_path = "c",
                                                                   .bin_dir = "b",
                                                                   .run_dir = "r",
                                                                   .password = "p",
                                                                   .maintenance = false,
                                                                   .gateway = false});
  EXPECT_THAT(stores_only, ::testing::Not(HasSubstr("[program:maintenance]")));
}

// A deployment on disk: topology file, tokens, a mailbox table with
// records and a verified backup of it.
class AgentcomctlTest : public ::testing::Test {
 protected:
  void SetUp() override { Setup(""); }
  void Setup(const std::string& maintenance_address) {
    config_ = dir_.Sub("agentcom.yaml");
    std::ofstream(config_) << testing::TopologyYaml({{"mailbox", {"agent_mailbox"}}},
                                                    maintenance_address);
    topology_ = *config::LoadTopology(config_);
    ASSERT_EQ(Ctl("init"), 0) << out_;
    auto table = testing::OpenTestTable(topology_.data_dir(), "agent_mailbox");
    for (int i = 0; i < 500; ++i) {
      ASSERT_TRUE(table->Put(absl::StrCat("k", 10000 + i), std::string(150, 'a' + i % 26)).ok());
    }
    ASSERT_TRUE(table->Compact().ok());
    auto manifest = table->Snapshot(topology_.backup_dir());
    ASSERT_TRUE(manifest.ok()) << manifest.status();
    backup_ = *manifest;
    // Written after the backup: the restore replays them from the logs.
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(table->Put(absl::StrCat("late", i), "x").ok());
    auto live = table->Verify();
    ASSERT_TRUE(live.ok());
    live_ = *live;
  }
  int Ctl(const std::string& args) {
    int status = -1;
    out_ = testing::RunCommand(
        absl::StrCat(AGENTCOM_BIN_DIR, "/agentcomctl ", args, " --config=", config_, " 2>&1"),
        &status);
    return status;
  }
  std::string BackupDir() const {
    return storage::BackupPath(topology_.backup_dir(), "agent_mailbox", backup_.backup_id());
  }

  testing::TempDir dir_;
  std::string config_;
  config::Topology topology_;
  common::v1::BackupManifest backup_;
  storage::VerifyResult live_;  // the table before the damage
  std::string out_;
};

TEST_F(AgentcomctlTest, VerifyBackupFindsAFlippedByte) {
  EXPECT_EQ(Ctl("verify-backup --table=agent_mailbox"), 0) << out_;
  EXPECT_THAT(out_, HasSubstr("OK      agent_mailbox " + backup_.backup_id() + ": 500 records"));
  EXPECT_EQ(Ctl("verify-backup --table=agent_mailbox --backup=" + backup_.backup_id()), 0) << out_;

  testing::DamageBackup(topology_.backup_dir(), "agent_mailbox", backup_.backup_id());
  EXPECT_EQ(Ctl("verify-backup --table=agent_mailbox"), 1) << out_;
  EXPECT_THAT(out_, HasSubstr("DAMAGED agent_mailbox " + backup_.backup_id()));
  EXPECT_THAT(out_, HasSubstr("does not match its checksum"));

  EXPECT_EQ(Ctl("verify-backup --table=no_such_table"), 2);
  EXPECT_THAT(out_, HasSubstr("table no_such_table is not in the topology"));
  EXPECT_EQ(Ctl("verify-backup --table=agent_mailbox --backup=../../etc"), 2);
  EXPECT_THAT(out_, HasSubstr("is not a backup id"));
  EXPECT_EQ(Ctl("verify-backup --table=agent_mailbox --backup=20200101T000000.000000Z"), 1);
  EXPECT_THAT(out_, HasSubstr("backup 20200101T000000.000000Z of table agent_mailbox"));
}

// The backup's records and every write after it, from the damaged table's
// write-ahead logs: exactly what the table held before the damage.
TEST_F(AgentcomctlTest, RestoreWithTheStoreStoppedBringsBackTheExactRecords) {
  testing::FlipBytesInLargestTableFile(topology_.data_dir() + "/agent_mailbox");
  ASSERT_EQ(Ctl("restore --table=agent_mailbox"), 0) << out_;
  EXPECT_THAT(out_, HasSubstr("RESTORE_OUTCOME_RESTORED"));
  EXPECT_THAT(out_, HasSubstr(backup_.backup_id()));
  EXPECT_THAT(out_, HasSubstr("\"replayed_operations\""));
  EXPECT_THAT(out_, ::testing::Not(HasSubstr("replay_problems")));

  auto table = testing::OpenTestTable(topology_.data_dir(), "agent_mailbox");
  EXPECT_EQ(table->state(), common::v1::TABLE_STATE_OK);
  auto verified = table->Verify();
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(verified->record_count, 520u);
  EXPECT_EQ(verified->record_count, live_.record_count);
  EXPECT_EQ(verified->content_hash, live_.content_hash);
  EXPECT_EQ(**table->Get("late19"), "x");
  table.reset();

  // The damaged table is kept, the journal is gone, the event is logged.
  int quarantined = 0;
  for (const auto& e : fs::directory_iterator(topology_.data_dir() + "/quarantine")) {
    quarantined += absl::StartsWith(e.path().filename().string(), "agent_mailbox-");
  }
  EXPECT_EQ(quarantined, 1);
  EXPECT_TRUE(fs::is_empty(topology_.state_dir() + "/restore-journal"));
  EXPECT_THAT(testing::ReadFile(topology_.state_dir() + "/events.jsonl"),
              HasSubstr("recovery_complete"));
}

TEST_F(AgentcomctlTest, RestoreRefusesWhileTheStoreHoldsTheTable) {
  auto live = testing::OpenTestTable(topology_.data_dir(), "agent_mailbox");  // "the store"
  EXPECT_EQ(Ctl("restore --table=agent_mailbox"), 2) << out_;
  EXPECT_THAT(out_, HasSubstr("stop the store first"));
  EXPECT_TRUE((*live->Get("late0")).has_value());  // untouched
  EXPECT_FALSE(fs::exists(topology_.data_dir() + "/quarantine"));
}

TEST(AgentcomctlMaintenanceTest, RestoreRefusesWhileMaintenanceRuns) {
  testing::TempDir dir;
  testing::FakeMaintenance maintenance;
  const std::string config = dir.Sub("agentcom.yaml");
  std::ofstream(config) << testing::TopologyYaml({{"mailbox", {"agent_mailbox"}}},
                                                 maintenance.address());
  int status = -1;
  const std::string out = testing::RunCommand(
      absl::StrCat(AGENTCOM_BIN_DIR, "/agentcomctl restore --table=agent_mailbox --config=", config,
                   " 2>&1"),
      &status);
  EXPECT_EQ(status, 2) << out;
  EXPECT_THAT(out, HasSubstr("maintenance is running at " + maintenance.address()));
}

}  // namespace
}  // namespace agentcom::tools
