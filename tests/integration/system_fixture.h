#ifndef AGENTCOM_TESTS_INTEGRATION_SYSTEM_FIXTURE_H_
#define AGENTCOM_TESTS_INTEGRATION_SYSTEM_FIXTURE_H_

#include <grpcpp/client_context.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "agentcom/mailbox/v1/mailbox.grpc.pb.h"
#include "agentcom/maintenance/v1/maintenance.grpc.pb.h"
#include "agentcom/store_admin/v1/store_admin.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/integration/supervised_system.h"
#include "tests/support/test_support.h"

namespace agentcom::testing {

// A test with the whole system under a real supervisord (SupervisedSystem)
// and the steps the recovery and fault tests share: reading alice's inbox,
// the maintenance event log, waiting for recovery.
class SystemTest : public ::testing::Test {
 protected:
  void SetUp() override { StartSystem(SupervisedSystem::Options()); }
  // A failed test shows what the processes logged (the directory is removed).
  void TearDown() override {
    if (HasFailure() && system_) {
      std::cout << RunCommand(absl::StrCat("tail -n 25 ", dir_.path(), "/logs/*.log 2>&1"));
    }
  }
  void StartSystem(const SupervisedSystem::Options& options) {
    system_ = SupervisedSystem::Start(dir_.path(), options);
    ASSERT_NE(system_, nullptr);
    maintenance_ = maintenance::v1::Maintenance::NewStub(system_->MaintenanceChannel());
    mailbox_ = mailbox::v1::Mailbox::NewStub(system_->Channel("mailbox"));
  }
  void Admin(grpc::ClientContext* ctx) {
    Authorize(ctx, system_->admin_token());
    ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(120)));
  }
  // Enqueues one message for `agent`; its sequence number.
  uint64_t Enqueue(const std::string& agent) {
    grpc::ClientContext ctx;
    Authorize(&ctx, system_->agent_token());
    mailbox::v1::EnqueueRequest r;
    r.set_agent_id(agent);
    r.mutable_message()->set_body("hello");
    mailbox::v1::EnqueueResponse resp;
    grpc::Status s = mailbox_->Enqueue(&ctx, r, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.seq();
  }
  // The mailbox table's record count and content hash, as its store
  // computes them in a full traversal.
  store_admin::v1::VerifyResponse VerifyMailbox() {
    auto admin = store_admin::v1::StoreAdmin::NewStub(system_->Channel("mailbox"));
    grpc::ClientContext ctx;
    Admin(&ctx);
    store_admin::v1::VerifyRequest r;
    r.set_table("agent_mailbox");
    store_admin::v1::VerifyResponse out;
    grpc::Status s = admin->Verify(&ctx, r, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }
  // Reads alice's whole inbox; returns the status and the message count
  // (and the messages, when asked).
  grpc::Status PollAll(size_t* count, std::vector<mailbox::v1::Message>* messages = nullptr) {
    *count = 0;
    if (messages) messages->clear();
    uint64_t after = 0;
    while (true) {
      grpc::ClientContext ctx;
      Authorize(&ctx, system_->agent_token());
      ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
      mailbox::v1::PollRequest r;
      r.set_agent_id("alice");
      r.set_after_seq(after);
      r.set_max_messages(1000);
      mailbox::v1::PollResponse page;
      grpc::Status s = mailbox_->Poll(&ctx, r, &page);
      if (!s.ok()) return s;
      *count += page.messages_size();
      if (messages)
        messages->insert(messages->end(), page.messages().begin(), page.messages().end());
      if (!page.has_more()) return s;
      after = page.messages(page.messages_size() - 1).seq();
    }
  }
  // Polls until alice's inbox reads back with exactly `expected` messages.
  ::testing::AssertionResult WaitServed(size_t expected, absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    size_t count = 0;
    grpc::Status s;
    while (absl::Now() < deadline) {
      s = PollAll(&count);
      if (s.ok() && count == expected) return ::testing::AssertionSuccess();
      absl::SleepFor(absl::Milliseconds(100));
    }
    return ::testing::AssertionFailure()
           << "inbox not served with " << expected << " messages within " << timeout << ": last "
           << s.error_message() << ", " << count << " messages";
  }
  std::vector<maintenance::v1::Event> Events() {
    grpc::ClientContext ctx;
    Admin(&ctx);
    maintenance::v1::ListEventsRequest r;
    r.set_limit(1000);
    maintenance::v1::ListEventsResponse out;
    if (!maintenance_->ListEvents(&ctx, r, &out).ok()) return {};
    return {out.events().begin(), out.events().end()};
  }
  std::optional<maintenance::v1::Event> WaitForEvent(const std::string& type,
                                                     absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    do {
      for (const auto& e : Events()) {
        if (e.type() == type) return e;
      }
      absl::SleepFor(absl::Milliseconds(100));
    } while (absl::Now() < deadline);
    return std::nullopt;
  }
  int CountEvents(const std::string& type) {
    int n = 0;
    for (const auto& e : Events()) n += e.type() == type;
    return n;
  }
  // A manual restore of agent_mailbox from its newest backup that verifies.
  void RestoreMailbox(maintenance::v1::RestoreResult* restored) {
    grpc::ClientContext ctx;
    Admin(&ctx);
    maintenance::v1::RestoreTableRequest r;
    r.set_table("agent_mailbox");
    grpc::Status s = maintenance_->RestoreTable(&ctx, r, restored);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(restored->outcome(), maintenance::v1::RESTORE_OUTCOME_RESTORED) << restored->reason();
  }
  // Waits until the store reports every byte `table`'s logs held at the call
  // as shipped to the backup directory (GetHealth carries its progress).
  void WaitLogsShipped(const std::string& table) {
    const absl::Time written = absl::Now();
    common::v1::TableStats stats;
    for (const absl::Time deadline = absl::Now() + absl::Seconds(30);;) {
      grpc::ClientContext ctx;
      Admin(&ctx);
      maintenance::v1::GetHealthResponse health;
      ASSERT_TRUE(maintenance_->GetHealth(&ctx, {}, &health).ok());
      for (const auto& t : health.tables()) {
        if (t.stats().table() == table) stats = t.stats();
      }
      if (stats.wal_shipped_through_unix_seconds() > absl::ToUnixMillis(written) / 1000.0) break;
      ASSERT_LT(absl::Now(), deadline) << stats.DebugString();
      absl::SleepFor(absl::Milliseconds(200));
    }
    EXPECT_GT(stats.wal_shipped_bytes(), 0u);
    EXPECT_LT(stats.wal_ship_lag_seconds(), 30);
  }
  // agent_mailbox's whole directory is lost while its store is down;
  // supervisord starts the store again, which serves an empty table.
  void LoseMailboxDataDirectory() {
    system_->Supervisorctl("stop mailbox");
    std::filesystem::remove_all(DataDir() + "/agent_mailbox");
    system_->Supervisorctl("start mailbox");
    ASSERT_TRUE(system_->WaitServing(absl::Seconds(30)));
  }
  std::string DataDir() const { return system_->topology().data_dir(); }
  std::string MaintenanceMetrics() {
    return HttpGet(system_->MaintenanceMetricsPort(), "/metrics");
  }

  TempDir dir_;
  std::unique_ptr<SupervisedSystem> system_;
  std::unique_ptr<maintenance::v1::Maintenance::Stub> maintenance_;
  std::unique_ptr<mailbox::v1::Mailbox::Stub> mailbox_;
};

}  // namespace agentcom::testing

#endif  // AGENTCOM_TESTS_INTEGRATION_SYSTEM_FIXTURE_H_
