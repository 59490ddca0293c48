// Issue 12: restores while agents keep writing. Four agents call
// Mailbox.Enqueue in a loop on channels that reconnect within 20-50 ms, so
// they reach a restarted store at once. Before the fix, a write landing
// between the store's start and maintenance's verification made every
// backup look bad and ended in degraded mode with an empty table. Here 20
// manual and 20 automatic restores must each end RESTORED from the newest
// backup with no backup rejected. Issue 14: each restore replays the
// write-ahead logs onto the backup, so every write ever acknowledged must be
// in the table after each restore, with no sequence number reused.
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agentcom/mailbox/v1/mailbox.grpc.pb.h"
#include "agentcom/maintenance/v1/maintenance.grpc.pb.h"
#include "agentcom/store_admin/v1/store_admin.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/system_fixture.h"

namespace agentcom::testing {
namespace {

namespace mnt = ::agentcom::maintenance::v1;
namespace mbx = ::agentcom::mailbox::v1;

constexpr int kWriters = 4;
constexpr int kRestoresEach = 20;

struct Ack {
  std::string agent;
  uint64_t seq;
  std::string body;
  absl::Time at;
};

class RestoreUnderLoadTest : public SystemTest {
 protected:
  // A channel as an impatient agent configures it: reconnect after 20-50 ms.
  std::shared_ptr<grpc::Channel> FastReconnectChannel() {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 20);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 20);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 50);
    return grpc::CreateCustomChannel(
        (*config::FindStore(system_->topology(), "mailbox"))->address(),
        grpc::InsecureChannelCredentials(), args);
  }

  void StartWriters() {
    for (int w = 0; w < kWriters; ++w) {
      writers_.emplace_back([this, w] {
        auto stub = mbx::Mailbox::NewStub(FastReconnectChannel());
        const std::string agent = absl::StrCat("writer-", w);
        for (int n = 0; !stop_; ++n) {
          grpc::ClientContext ctx;
          Authorize(&ctx, system_->agent_token());
          ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
          mbx::EnqueueRequest r;
          r.set_agent_id(agent);
          r.mutable_message()->set_body(absl::StrCat(agent, "-", n, std::string(100, '.')));
          mbx::EnqueueResponse out;
          if (stub->Enqueue(&ctx, r, &out).ok()) {
            std::lock_guard<std::mutex> l(mu_);
            acks_.push_back({agent, out.seq(), r.message().body(), absl::Now()});
          } else {
            ++failed_;
            absl::SleepFor(absl::Milliseconds(5));
          }
        }
      });
    }
  }
  void StopWriters() {
    stop_ = true;
    for (auto& t : writers_) t.join();
    writers_.clear();
  }

  // Every write acknowledged so far is in the table now, under the sequence
  // number it was acknowledged with.
  ::testing::AssertionResult AllAcknowledgedPresent() {
    std::vector<Ack> acks;
    {
      std::lock_guard<std::mutex> l(mu_);
      acks = acks_;
    }
    std::map<std::string, std::map<uint64_t, std::string>> stored;
    for (int w = 0; w < kWriters; ++w) {
      const std::string agent = absl::StrCat("writer-", w);
      uint64_t after = 0;
      while (true) {
        grpc::ClientContext ctx;
        Authorize(&ctx, system_->agent_token());
        ctx.set_wait_for_ready(true);
        ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
        mbx::PollRequest r;
        r.set_agent_id(agent);
        r.set_after_seq(after);
        r.set_max_messages(1000);
        mbx::PollResponse page;
        grpc::Status s = mailbox_->Poll(&ctx, r, &page);
        if (!s.ok()) return ::testing::AssertionFailure() << "poll: " << s.error_message();
        for (const auto& m : page.messages()) stored[agent][m.seq()] = m.body();
        if (!page.has_more() || page.messages().empty()) break;
        after = page.messages(page.messages_size() - 1).seq();
      }
    }
    int missing = 0;
    for (const Ack& a : acks) {
      auto it = stored[a.agent].find(a.seq);
      if (it == stored[a.agent].end() || it->second != a.body) ++missing;
    }
    if (missing > 0) {
      return ::testing::AssertionFailure() << missing << " of " << acks.size()
                                           << " writes acknowledged since the restore are missing";
    }
    acks_checked_ += acks.size();
    return ::testing::AssertionSuccess();
  }

  int CountRecoveries(const std::string& type) {
    int n = 0;
    for (const auto& e : Events()) n += e.type() == type && e.table() == "agent_mailbox";
    return n;
  }

  std::mutex mu_;
  std::vector<Ack> acks_;
  std::vector<std::thread> writers_;
  std::atomic<bool> stop_{false};
  std::atomic<int> failed_{0};
  size_t acks_checked_ = 0;
};

TEST_F(RestoreUnderLoadTest, ManualAndAutomaticRestoresUnderWritesAllRestoreAndLoseNoWrite) {
  system_->EnqueueMessages(500);
  const std::string backup_id = system_->CompactAndBackUpMailbox();
  ASSERT_FALSE(backup_id.empty());
  StartWriters();
  absl::SleepFor(absl::Milliseconds(300));

  for (int i = 0; i < kRestoresEach; ++i) {
    SCOPED_TRACE(absl::StrCat("manual restore ", i));
    grpc::ClientContext ctx;
    Admin(&ctx);
    mnt::RestoreTableRequest r;
    r.set_table("agent_mailbox");
    mnt::RestoreResult result;
    grpc::Status s = maintenance_->RestoreTable(&ctx, r, &result);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(result.outcome(), mnt::RESTORE_OUTCOME_RESTORED) << result.reason();
    EXPECT_THAT(result.rejected_backups(), ::testing::IsEmpty());
    EXPECT_EQ(result.lost_operations(), 0u);
    EXPECT_THAT(result.replay_problems(), ::testing::IsEmpty());
    absl::SleepFor(absl::Milliseconds(300));  // agents write to the restored table
    EXPECT_TRUE(AllAcknowledgedPresent());
  }

  auto admin = store_admin::v1::StoreAdmin::NewStub(system_->Channel("mailbox"));
  for (int i = 0; i < kRestoresEach; ++i) {
    SCOPED_TRACE(absl::StrCat("automatic restore ", i));
    const int before = CountRecoveries("recovery_complete");
    // Damage the live table and read it all, as an agent's next read would.
    bool detected = false;
    for (int attempt = 0; attempt < 5 && !detected; ++attempt) {
      grpc::ClientContext cctx;
      Admin(&cctx);
      store_admin::v1::CompactRequest compact;
      compact.set_table("agent_mailbox");
      store_admin::v1::CompactResponse compacted;
      if (!admin->Compact(&cctx, compact, &compacted).ok()) {
        absl::SleepFor(absl::Milliseconds(100));
        continue;
      }
      FlipBytesInLargestTableFile(DataDir() + "/agent_mailbox");
      grpc::ClientContext vctx;
      Admin(&vctx);
      store_admin::v1::VerifyRequest verify;
      verify.set_table("agent_mailbox");
      store_admin::v1::VerifyResponse verified;
      detected = !admin->Verify(&vctx, verify, &verified).ok();
    }
    ASSERT_TRUE(detected);
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (CountRecoveries("recovery_complete") == before && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(20));
    }
    ASSERT_EQ(CountRecoveries("recovery_complete"), before + 1);
    const mnt::Event last = [&] {
      mnt::Event e;
      for (const auto& ev : Events()) {
        if (ev.type() == "recovery_complete" && ev.table() == "agent_mailbox") e = ev;
      }
      return e;
    }();
    EXPECT_EQ(last.details().at("trigger"), "auto");
    EXPECT_EQ(last.details().at("rejected_backups"), "0");
    EXPECT_EQ(last.details().at("lost_operations"), "0");
    absl::SleepFor(absl::Milliseconds(300));
    EXPECT_TRUE(AllAcknowledgedPresent());
  }
  StopWriters();

  EXPECT_EQ(CountRecoveries("recovery_failed"), 0);
  EXPECT_EQ(CountRecoveries("recovery_complete"), 2 * kRestoresEach);
  EXPECT_THAT(MaintenanceMetrics(),
              ::testing::HasSubstr("agentcom_table_degraded{table=\"agent_mailbox\"} 0"));
  std::cout << "[ MEASURED ] " << 2 * kRestoresEach << " restores under " << kWriters
            << " writers: " << acks_.size() << " writes acknowledged, every one present after "
            << "each restore (" << acks_checked_ << " checks), " << failed_
            << " calls failed while a restore was in progress\n";
  EXPECT_GT(acks_checked_, 0u);
}

}  // namespace
}  // namespace agentcom::testing
