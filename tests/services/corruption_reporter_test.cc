// ReportCorruption delivery (issue 2, item 5): fields and token sent, and
// retried until maintenance comes up.
#include "services/store_admin/corruption_reporter.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/support/fake_maintenance.h"
#include "tests/support/test_support.h"

namespace agentcom::store_admin {
namespace {

std::unique_ptr<maintenance::v1::Maintenance::StubInterface> StubFor(const std::string& address) {
  return maintenance::v1::Maintenance::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
}

TEST(MaintenanceReporterTest, DeliversTheReportWithTheAdminToken) {
  testing::FakeMaintenance fake;
  MaintenanceReporter reporter({.store = "mailbox", .admin_token = "admin-secret-123456"},
                               StubFor(fake.address()));
  reporter.OnCorruption("agent_mailbox", "Corruption: block checksum mismatch", 4242);
  ASSERT_TRUE(fake.WaitForReports(1, absl::Seconds(10)));
  auto r = fake.reports()[0];
  EXPECT_EQ(r.store(), "mailbox");
  EXPECT_EQ(r.table(), "agent_mailbox");
  EXPECT_EQ(r.reason(), "Corruption: block checksum mismatch");
  EXPECT_GT(r.detected_at().seconds(), 0);
  ASSERT_TRUE(r.has_records());
  EXPECT_EQ(r.records(), 4242u);
  EXPECT_EQ(fake.authorizations()[0], "Bearer admin-secret-123456");
}

TEST(MaintenanceReporterTest, RetriesUntilMaintenanceIsReachable) {
  const int port = testing::FreePort();
  MaintenanceReporter reporter({.store = "mailbox",
                                .admin_token = "admin-secret-123456",
                                .rpc_timeout = absl::Milliseconds(200),
                                .initial_backoff = absl::Milliseconds(20),
                                .max_backoff = absl::Milliseconds(200)},
                               StubFor(absl::StrCat("127.0.0.1:", port)));
  reporter.OnCorruption("agent_mailbox", "Corruption: bad block", std::nullopt);
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_EQ(reporter.delivered(), 0u);
  testing::FakeMaintenance fake(port);
  ASSERT_TRUE(fake.WaitForReports(1, absl::Seconds(15)));
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(fake.reports().size(), 1u);  // delivered once, not once per attempt
  EXPECT_EQ(reporter.delivered(), 1u);
}

}  // namespace
}  // namespace agentcom::store_admin
