// Mailbox semantics (issue 2, item 7): sequence numbers (monotonic, never
// reused, surviving a restart), Poll paging, Ack, limits and bad input.
#include "services/mailbox/mailbox.h"

#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "common/server/api_checks.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_support.h"

namespace agentcom::mailbox {
namespace {

using ::testing::HasSubstr;

class MailboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    limits_.set_max_body_bytes(1024);
    limits_.set_max_id_bytes(32);
    Reopen();
  }
  void Reopen() {
    mailbox_.reset();
    table_.reset();
    table_ = testing::OpenTestTable(dir_.path(), kMailboxTable, common::v1::DURABILITY_SYNC);
    mailbox_ = std::make_unique<Mailbox>(table_.get(), limits_, &clock_);
  }
  absl::StatusOr<v1::EnqueueResponse> Enqueue(const std::string& agent, const std::string& body) {
    v1::EnqueueRequest r;
    r.set_agent_id(agent);
    r.mutable_message()->set_body(body);
    r.mutable_message()->set_from("sender");
    return mailbox_->Enqueue(r);
  }
  v1::PollResponse Poll(const std::string& agent, uint64_t after, uint32_t max = 0) {
    v1::PollRequest r;
    r.set_agent_id(agent);
    r.set_after_seq(after);
    r.set_max_messages(max);
    auto p = mailbox_->Poll(r);
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? *p : v1::PollResponse();
  }
  uint64_t Ack(const std::string& agent, uint64_t up_to) {
    v1::AckRequest r;
    r.set_agent_id(agent);
    r.set_up_to_seq(up_to);
    auto a = mailbox_->Ack(r);
    EXPECT_TRUE(a.ok()) << a.status();
    return a.ok() ? a->deleted() : 0;
  }

  testing::TempDir dir_;
  ManualClock clock_;
  topology::v1::Limits limits_;
  std::unique_ptr<storage::Table> table_;
  std::unique_ptr<Mailbox> mailbox_;
};

TEST_F(MailboxTest, SequenceNumbersArePerAgentAndOrdered) {
  EXPECT_EQ(Enqueue("alice", "a1")->seq(), 1u);
  EXPECT_EQ(Enqueue("alice", "a2")->seq(), 2u);
  EXPECT_EQ(Enqueue("bob", "b1")->seq(), 1u);
  EXPECT_EQ(Enqueue("alice", "a3")->seq(), 3u);

  v1::PollResponse p = Poll("alice", 0);
  ASSERT_EQ(p.messages_size(), 3);
  EXPECT_EQ(p.messages(0).body(), "a1");
  EXPECT_EQ(p.messages(2).body(), "a3");
  EXPECT_EQ(p.messages(2).seq(), 3u);
  EXPECT_EQ(p.messages(0).from(), "sender");
  EXPECT_FALSE(p.messages(0).id().empty());
  EXPECT_EQ(server::FromProtoTime(p.messages(0).enqueue_time()), clock_.Now());
  EXPECT_FALSE(p.has_more());
  EXPECT_EQ(Poll("alice", 2).messages_size(), 1);
  EXPECT_EQ(Poll("bob", 0).messages_size(), 1);
  EXPECT_EQ(Poll("carol", 0).messages_size(), 0);
}

TEST_F(MailboxTest, PollPagesWithHasMore) {
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Enqueue("alice", absl::StrCat(i)).ok());
  v1::PollResponse p = Poll("alice", 0, 2);
  ASSERT_EQ(p.messages_size(), 2);
  EXPECT_TRUE(p.has_more());
  p = Poll("alice", p.messages(1).seq(), 2);
  EXPECT_EQ(p.messages(0).body(), "2");
  EXPECT_TRUE(p.has_more());
  p = Poll("alice", 4, 2);
  EXPECT_EQ(p.messages_size(), 1);
  EXPECT_FALSE(p.has_more());
}

// Found by the disk-full fault test: 1000 messages of 64 KiB made one Poll
// answer 25 MB, which gRPC clients refuse (default limit 4 MiB).
TEST_F(MailboxTest, PollPagesStopAtAByteBudget) {
  limits_.set_max_body_bytes(1 << 20);
  Reopen();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(Enqueue("alice", std::string(900 << 10, 'a' + i)).ok());
  uint64_t after = 0;
  int seen = 0;
  while (true) {
    v1::PollResponse p = Poll("alice", after, 1000);
    ASSERT_GT(p.messages_size(), 0);
    EXPECT_LE(p.ByteSizeLong(), size_t{4} << 20);
    seen += p.messages_size();
    after = p.messages(p.messages_size() - 1).seq();
    if (!p.has_more()) break;
  }
  EXPECT_EQ(seen, 10);
}

TEST_F(MailboxTest, AckDeletesAndSequencesAreNeverReusedEvenAfterRestart) {
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(Enqueue("alice", "m").ok());
  EXPECT_EQ(Ack("alice", 2), 2u);
  EXPECT_EQ(Ack("alice", 2), 0u);  // idempotent
  EXPECT_EQ(Poll("alice", 0).messages(0).seq(), 3u);
  EXPECT_EQ(Ack("alice", 100), 2u);
  EXPECT_EQ(Poll("alice", 0).messages_size(), 0);

  Reopen();
  EXPECT_EQ(Enqueue("alice", "after restart")->seq(), 5u);
  EXPECT_EQ(Poll("alice", 0).messages(0).body(), "after restart");
}

TEST_F(MailboxTest, ConcurrentEnqueuesGetDistinctSequences) {
  std::vector<std::thread> threads;
  std::vector<std::vector<uint64_t>> seqs(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) seqs[t].push_back(Enqueue("alice", "x")->seq());
    });
  }
  for (auto& t : threads) t.join();
  std::set<uint64_t> all;
  for (const auto& s : seqs) all.insert(s.begin(), s.end());
  EXPECT_EQ(all.size(), 200u);
  EXPECT_EQ(*all.rbegin(), 200u);
  EXPECT_EQ(table_->Stats().records(), 201u);  // 200 messages + the sequence record
}

// Enqueues answered when they commit (EnqueueAsync, what the gRPC service
// runs) and queued faster than they commit: an agent's sequence numbers are
// still issued without gaps and in each sender's order.
TEST_F(MailboxTest, EnqueuesQueuedWithoutWaitingGetGapFreeSequencesInEachSendersOrder) {
  constexpr int kSenders = 4, kEach = 100;
  absl::Mutex mu;
  std::map<uint64_t, std::string> answered;  // seq -> body
  int failures = 0, pending = kSenders * kEach;
  std::vector<std::thread> senders;
  for (int t = 0; t < kSenders; ++t) {
    senders.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        v1::EnqueueRequest r;
        r.set_agent_id("bob");
        r.mutable_message()->set_body(absl::StrFormat("%d-%03d", t, i));
        mailbox_->EnqueueAsync(
            r, [&, body = r.message().body()](absl::StatusOr<v1::EnqueueResponse> result) {
              absl::MutexLock l(&mu);
              --pending;
              if (!result.ok()) {
                ++failures;
                return;
              }
              answered[result->seq()] = body;
            });
      }
    });
  }
  for (auto& t : senders) t.join();
  {
    absl::MutexLock l(&mu);
    mu.Await(absl::Condition(
        +[](int* p) { return *p == 0; }, &pending));
    ASSERT_EQ(failures, 0);
    EXPECT_EQ(answered.begin()->first, 1u);
    EXPECT_EQ(answered.rbegin()->first, static_cast<uint64_t>(kSenders * kEach));
  }
  std::vector<std::string> last(kSenders);
  uint64_t expected_seq = 0;
  for (uint64_t after = 0;;) {
    v1::PollResponse page = Poll("bob", after, 100);
    for (const auto& m : page.messages()) {
      EXPECT_EQ(m.seq(), ++expected_seq);
      EXPECT_EQ(m.body(), answered[m.seq()]);
      const int sender = m.body()[0] - '0';
      EXPECT_LT(last[sender], m.body()) << "sender " << sender << " out of order";
      last[sender] = m.body();
      after = m.seq();
    }
    if (!page.has_more()) break;
  }
  EXPECT_EQ(expected_seq, static_cast<uint64_t>(kSenders * kEach));
  EXPECT_EQ(table_->Stats().records(), kSenders * kEach + 1u);
}

TEST_F(MailboxTest, BadInputIsInvalidArgumentAndWritesNothing) {
  const uint64_t before = table_->Stats().records();
  auto expect_invalid = [&](const v1::EnqueueRequest& r, const std::string& what) {
    auto e = mailbox_->Enqueue(r);
    EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument) << what;
    EXPECT_THAT(e.status().message(), HasSubstr(what));
  };
  v1::EnqueueRequest r;
  expect_invalid(r, "agent_id is required");
  r.set_agent_id(std::string(33, 'a'));
  expect_invalid(r, "agent_id is longer than 32 bytes");
  r.set_agent_id("bad id/..");
  expect_invalid(r, "agent_id may only contain");
  r.set_agent_id("alice");
  r.mutable_message()->set_body(std::string(1025, 'b'));
  expect_invalid(r, "the limit is 1024");
  r.mutable_message()->set_body("ok");
  r.mutable_message()->set_from("no spaces please");
  expect_invalid(r, "message.from may only contain");
  r.mutable_message()->set_from("");
  (*r.mutable_message()->mutable_headers())["k"] = std::string(1022, 'h');
  expect_invalid(r, "message body plus headers");
  EXPECT_EQ(table_->Stats().records(), before);

  v1::PollRequest p;
  p.set_agent_id("alice");
  p.set_max_messages(1001);
  EXPECT_EQ(mailbox_->Poll(p).status().code(), absl::StatusCode::kInvalidArgument);
  v1::AckRequest a;
  EXPECT_EQ(mailbox_->Ack(a).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(MailboxTest, CallerChosenIdsAreKept) {
  v1::EnqueueRequest r;
  r.set_agent_id("alice");
  r.mutable_message()->set_id("msg-42");
  (*r.mutable_message()->mutable_headers())["content-type"] = "text/plain";
  ASSERT_EQ(mailbox_->Enqueue(r)->id(), "msg-42");
  auto m = Poll("alice", 0).messages(0);
  EXPECT_EQ(m.id(), "msg-42");
  EXPECT_EQ(m.headers().at("content-type"), "text/plain");
}

}  // namespace
}  // namespace agentcom::mailbox
