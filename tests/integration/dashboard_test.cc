// The dashboard in a real browser (issue 5): the whole system under
// supervisord, Debian's headless Chromium driven by playwright-core
// (tests/e2e/dashboard.mjs). The browser signs in, sees all nine tables,
// compacts all and sees the history grow; this test then flips bytes in a
// live table and reads it, and the browser must see recovery_complete arrive
// live. Screenshots go to <build>/test-artifacts/.
#include <grpcpp/client_context.h>

#include <cstdio>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/integration/supervised_system.h"
#include "tests/support/test_support.h"

namespace agentcom::testing {
namespace {

TEST(DashboardTest, SignInCompactAllAndWatchARecoveryLive) {
  const std::string e2e = std::string(AGENTCOM_SOURCE_DIR) + "/tests/e2e";
  ASSERT_TRUE(std::filesystem::exists(e2e + "/node_modules/playwright-core"))
      << "run npm ci in tests/e2e (deploy/test.sh does)";
  ASSERT_TRUE(std::filesystem::exists("/usr/bin/chromium")) << "apt-get install chromium";
  TempDir dir;
  // Backups are also copied off this host, here to another directory (the
  // dashboard shows where each backup lives).
  std::filesystem::create_directories(dir.Sub("offsite"));
  SupervisedSystem::Options options;
  options.customize = [&](config::Topology* t) {
    auto* r = t->mutable_maintenance()->mutable_remote_backup();
    r->set_kind("directory");
    r->set_directory(dir.Sub("offsite"));
    r->set_upload_interval_seconds(1);
  };
  auto system = SupervisedSystem::Start(dir.path(), options);
  ASSERT_NE(system, nullptr);

  // Data worth restoring, and a backup of it, copied off this host.
  system->EnqueueMessages(3000);
  const std::string backup_id = system->CompactAndBackUpMailbox();
  ASSERT_FALSE(backup_id.empty());
  const std::string offsite_manifest =
      dir.Sub(absl::StrCat("offsite/agent_mailbox/", backup_id, "/MANIFEST.json"));
  for (const absl::Time deadline = absl::Now() + absl::Seconds(30);
       !std::filesystem::exists(offsite_manifest);) {
    ASSERT_LT(absl::Now(), deadline) << "the backup was not copied to " << dir.Sub("offsite");
    absl::SleepFor(absl::Milliseconds(200));
  }
  absl::SleepFor(absl::Seconds(2));  // the round that uploaded it has reported

  const std::string artifacts = std::string(AGENTCOM_BIN_DIR) + "/../test-artifacts";
  const std::string command =
      absl::StrCat("cd ", e2e, " && DASHBOARD_URL=http://", system->topology().gateway().address(),
                   "/ ADMIN_TOKEN=", system->admin_token(), " ARTIFACTS=", artifacts,
                   " EXPECTED_TABLES=9 BACKUP_ID=", backup_id, " node dashboard.mjs 2>&1");
  FILE* browser = popen(command.c_str(), "r");
  ASSERT_NE(browser, nullptr);
  char line[4096];
  std::string output;
  bool corrupted = false;
  while (fgets(line, sizeof(line), browser) != nullptr) {
    output += line;
    if (!corrupted && std::string(line).find("WAITING_FOR_RECOVERY") != std::string::npos) {
      corrupted = true;
      // An agent reads: the store detects the corruption and reports it.
      EXPECT_EQ(system->CorruptMailboxAndRead().error_code(), grpc::StatusCode::UNAVAILABLE);
    }
  }
  const int status = pclose(browser);
  EXPECT_TRUE(corrupted) << output;
  EXPECT_EQ(status, 0) << output
                       << RunCommand(absl::StrCat("tail -n 15 ", dir.path(), "/logs/mailbox.log ",
                                                  dir.path(), "/logs/maintenance.log 2>&1"));
  EXPECT_NE(output.find("E2E PASSED"), std::string::npos) << output;
  std::cout << output;
}

}  // namespace
}  // namespace agentcom::testing
