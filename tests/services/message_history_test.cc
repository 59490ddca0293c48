// MessageHistory (issue 3): store, idempotency, queries by agent, channel,
// both and time range, paging, tokens bound to their filter, bad input.
#include "services/message_history/message_history.h"

#include "absl/strings/str_cat.h"
#include "common/server/api_checks.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_support.h"

namespace agentcom::message_history {
namespace {

using ::testing::ElementsAre;

class MessageHistoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    limits_.set_max_body_bytes(100);
    limits_.set_max_id_bytes(32);
    table_ = testing::OpenTestTable(dir_.path(), kHistoryTable);
    h_ = std::make_unique<MessageHistory>(table_.get(), limits_, &clock_);
    // t=1 m1 alice->bob, t=2 m2 bob->alice on #ops, t=3 m3 carol on #ops,
    // t=4 m4 alice->carol on #dev
    Store("m1", "alice", "bob", "");
    Store("m2", "bob", "alice", "ops");
    Store("m3", "carol", "", "ops");
    Store("m4", "alice", "carol", "dev");
  }
  void Store(const std::string& id, const std::string& from, const std::string& to,
             const std::string& channel) {
    clock_.Advance(absl::Seconds(1));
    v1::StoreRequest r;
    r.mutable_message()->set_id(id);
    r.mutable_message()->set_from(from);
    r.mutable_message()->set_to(to);
    r.mutable_message()->set_channel(channel);
    r.mutable_message()->set_body("b");
    auto s = h_->Store(r);
    ASSERT_TRUE(s.ok()) << s.status();
  }
  std::vector<std::string> Query(v1::QueryRequest r) {
    std::vector<std::string> ids;
    do {
      auto page = h_->Query(r);
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok()) break;
      for (const auto& m : page->messages()) ids.push_back(m.id());
      r.set_page_token(page->next_page_token());
    } while (!r.page_token().empty());
    return ids;
  }

  testing::TempDir dir_;
  topology::v1::Limits limits_;
  ManualClock clock_;
  std::unique_ptr<storage::Table> table_;
  std::unique_ptr<MessageHistory> h_;
};

TEST_F(MessageHistoryTest, QueriesByEveryFilterInTimeOrder) {
  v1::QueryRequest r;
  EXPECT_THAT(Query(r), ElementsAre("m1", "m2", "m3", "m4"));
  r.set_agent_id("alice");
  EXPECT_THAT(Query(r), ElementsAre("m1", "m2", "m4"));
  r.set_channel("ops");
  EXPECT_THAT(Query(r), ElementsAre("m2"));
  r.clear_agent_id();
  EXPECT_THAT(Query(r), ElementsAre("m2", "m3"));
  v1::QueryRequest window;
  *window.mutable_start_time() = server::ToProtoTime(clock_.Now() - absl::Seconds(1));
  *window.mutable_end_time() = server::ToProtoTime(clock_.Now());
  EXPECT_THAT(Query(window), ElementsAre("m3"));
  window.set_agent_id("carol");
  window.clear_end_time();
  EXPECT_THAT(Query(window), ElementsAre("m3", "m4"));
}

TEST_F(MessageHistoryTest, PagesAndTokensAreBoundToTheirFilter) {
  v1::QueryRequest r;
  r.set_limit(1);
  EXPECT_EQ(Query(r).size(), 4u);
  auto first = h_->Query(r);
  v1::QueryRequest other;
  other.set_agent_id("alice");
  other.set_page_token(first->next_page_token());
  EXPECT_EQ(h_->Query(other).status().code(), absl::StatusCode::kInvalidArgument);
  other.set_page_token("#$%");
  EXPECT_EQ(h_->Query(other).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(MessageHistoryTest, StoreIsIdempotentForTheSameContent) {
  v1::StoreRequest r;
  r.mutable_message()->set_id("m1");
  r.mutable_message()->set_from("alice");
  r.mutable_message()->set_to("bob");
  r.mutable_message()->set_body("b");
  EXPECT_FALSE(h_->Store(r)->created());
  r.mutable_message()->set_body("changed");
  EXPECT_EQ(h_->Store(r).status().code(), absl::StatusCode::kAlreadyExists);
}

TEST_F(MessageHistoryTest, BadInput) {
  const uint64_t before = table_->Stats().records();
  v1::StoreRequest r;
  EXPECT_EQ(h_->Store(r).status().code(), absl::StatusCode::kInvalidArgument);
  r.mutable_message()->set_id("x");
  EXPECT_EQ(h_->Store(r).status().code(), absl::StatusCode::kInvalidArgument);  // no parties
  r.mutable_message()->set_from("alice");
  r.mutable_message()->set_body(std::string(101, 'b'));
  EXPECT_EQ(h_->Store(r).status().code(), absl::StatusCode::kInvalidArgument);
  r.mutable_message()->set_body("b");
  r.mutable_message()->set_channel("#bad");
  EXPECT_EQ(h_->Store(r).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(table_->Stats().records(), before);
  v1::QueryRequest q;
  q.set_limit(10000);
  EXPECT_EQ(h_->Query(q).status().code(), absl::StatusCode::kInvalidArgument);
  v1::QueryRequest backwards;
  *backwards.mutable_start_time() = server::ToProtoTime(clock_.Now());
  *backwards.mutable_end_time() = server::ToProtoTime(clock_.Now() - absl::Seconds(1));
  EXPECT_EQ(h_->Query(backwards).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace agentcom::message_history
