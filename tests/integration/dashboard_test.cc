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
#include "agentcom/mailbox/v1/mailbox.grpc.pb.h"
#include "agentcom/maintenance/v1/maintenance.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/integration/supervised_system.h"
#include "tests/support/test_support.h"

namespace agentcom::testing {
namespace {

namespace mbx = ::agentcom::mailbox::v1;
namespace mnt = ::agentcom::maintenance::v1;

TEST(DashboardTest, SignInCompactAllAndWatchARecoveryLive) {
  const std::string e2e = std::string(AGENTCOM_SOURCE_DIR) + "/tests/e2e";
  ASSERT_TRUE(std::filesystem::exists(e2e + "/node_modules/playwright-core"))
      << "run npm ci in tests/e2e (deploy/test.sh does)";
  ASSERT_TRUE(std::filesystem::exists("/usr/bin/chromium")) << "apt-get install chromium";
  TempDir dir;
  auto system = SupervisedSystem::Start(dir.path());
  ASSERT_NE(system, nullptr);

  // Data worth restoring, and a backup of it.
  auto mailbox = mbx::Mailbox::NewStub(system->Channel("mailbox"));
  for (int i = 0; i < 3000; ++i) {
    grpc::ClientContext ctx;
    Authorize(&ctx, system->agent_token());
    mbx::EnqueueRequest r;
    r.set_agent_id("alice");
    r.mutable_message()->set_body(std::string(200, 'x'));
    mbx::EnqueueResponse out;
    ASSERT_TRUE(mailbox->Enqueue(&ctx, r, &out).ok());
  }
  auto maintenance = mnt::Maintenance::NewStub(system->MaintenanceChannel());
  {
    grpc::ClientContext ctx;
    Authorize(&ctx, system->admin_token());
    mnt::BackupTableRequest r;
    r.set_table("agent_mailbox");
    mnt::BackupRun out;
    ASSERT_TRUE(maintenance->BackupTable(&ctx, r, &out).ok());
  }
  {  // moves the records from the log into table files, where bytes get flipped
    grpc::ClientContext ctx;
    Authorize(&ctx, system->admin_token());
    mnt::CompactTableRequest r;
    r.set_table("agent_mailbox");
    mnt::CompactionRun out;
    ASSERT_TRUE(maintenance->CompactTable(&ctx, r, &out).ok());
  }

  const std::string artifacts = std::string(AGENTCOM_BIN_DIR) + "/../test-artifacts";
  const std::string command = absl::StrCat(
      "cd ", e2e, " && DASHBOARD_URL=http://", system->topology().gateway().address(),
      "/ ADMIN_TOKEN=", system->admin_token(), " ARTIFACTS=", artifacts,
      " EXPECTED_TABLES=9 node dashboard.mjs 2>&1");
  FILE* browser = popen(command.c_str(), "r");
  ASSERT_NE(browser, nullptr);
  char line[4096];
  std::string output;
  bool corrupted = false;
  while (fgets(line, sizeof(line), browser) != nullptr) {
    output += line;
    if (!corrupted && std::string(line).find("WAITING_FOR_RECOVERY") != std::string::npos) {
      corrupted = true;
      FlipBytesInLargestTableFile(system->topology().data_dir() + "/agent_mailbox");
      // An agent reads: the store detects the corruption and reports it.
      uint64_t after = 0;
      for (int page = 0; page < 5; ++page) {
        grpc::ClientContext ctx;
        Authorize(&ctx, system->agent_token());
        mbx::PollRequest r;
        r.set_agent_id("alice");
        r.set_after_seq(after);
        r.set_max_messages(1000);
        mbx::PollResponse out;
        if (!mailbox->Poll(&ctx, r, &out).ok() || !out.has_more()) break;
        after = out.messages(out.messages_size() - 1).seq();
      }
    }
  }
  const int status = pclose(browser);
  EXPECT_TRUE(corrupted) << output;
  EXPECT_EQ(status, 0) << output << RunCommand(absl::StrCat("tail -n 15 ", dir.path(), "/logs/mailbox.log ",
                                                            dir.path(), "/logs/maintenance.log 2>&1"));
  EXPECT_NE(output.find("E2E PASSED"), std::string::npos) << output;
  std::cout << output;
}

}  // namespace
}  // namespace agentcom::testing
