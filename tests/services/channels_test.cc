// Channels (issue 3): subscriptions, publish with sequence numbers and the
// subscribers at publish time, history paging, bad input.
#include "services/channels/channels.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_support.h"

namespace agentcom::channels {
namespace {

using ::testing::ElementsAre;

class ChannelsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    limits_.set_max_body_bytes(100);
    limits_.set_max_id_bytes(32);
    subs_ = testing::OpenTestTable(dir_.path(), kSubscriptionsTable);
    history_ = testing::OpenTestTable(dir_.path(), kHistoryTable);
    ch_ = std::make_unique<Channels>(subs_.get(), history_.get(), limits_, &clock_);
  }
  bool Subscribe(const std::string& channel, const std::string& agent) {
    v1::SubscribeRequest r;
    r.set_channel(channel);
    r.set_agent_id(agent);
    return ch_->Subscribe(r)->created();
  }
  v1::PublishResponse Publish(const std::string& channel, const std::string& body) {
    v1::PublishRequest r;
    r.set_channel(channel);
    r.set_from("bob");
    r.set_body(body);
    auto p = ch_->Publish(r);
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? *p : v1::PublishResponse();
  }

  testing::TempDir dir_;
  topology::v1::Limits limits_;
  ManualClock clock_;
  std::unique_ptr<storage::Table> subs_, history_;
  std::unique_ptr<Channels> ch_;
};

TEST_F(ChannelsTest, SubscribeIsIdempotentAndUnsubscribeRemoves) {
  EXPECT_TRUE(Subscribe("news", "alice"));
  EXPECT_FALSE(Subscribe("news", "alice"));
  EXPECT_TRUE(Subscribe("news", "bob"));
  EXPECT_TRUE(Subscribe("other", "carol"));
  v1::ListSubscribersRequest list;
  list.set_channel("news");
  EXPECT_THAT(ch_->ListSubscribers(list)->agent_ids(), ElementsAre("alice", "bob"));
  v1::UnsubscribeRequest u;
  u.set_channel("news");
  u.set_agent_id("alice");
  EXPECT_TRUE(ch_->Unsubscribe(u)->removed());
  EXPECT_FALSE(ch_->Unsubscribe(u)->removed());
  EXPECT_THAT(ch_->ListSubscribers(list)->agent_ids(), ElementsAre("bob"));
}

TEST_F(ChannelsTest, ListSubscribersPages) {
  for (int i = 0; i < 7; ++i) Subscribe("news", absl::StrCat("agent", i));
  v1::ListSubscribersRequest r;
  r.set_channel("news");
  r.set_page_size(3);
  std::vector<std::string> all;
  do {
    auto page = ch_->ListSubscribers(r);
    ASSERT_TRUE(page.ok()) << page.status();
    all.insert(all.end(), page->agent_ids().begin(), page->agent_ids().end());
    r.set_page_token(page->next_page_token());
  } while (!r.page_token().empty());
  EXPECT_EQ(all.size(), 7u);
  r.set_channel("other");
  r.set_page_token(ch_->ListSubscribers([] {
                        v1::ListSubscribersRequest x;
                        x.set_channel("news");
                        x.set_page_size(1);
                        return x;
                      }())
                       ->next_page_token());
  EXPECT_EQ(ch_->ListSubscribers(r).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ChannelsTest, PublishNumbersMessagesAndNamesTheSubscribersAtThatTime) {
  Subscribe("news", "alice");
  v1::PublishResponse first = Publish("news", "one");
  EXPECT_EQ(first.seq(), 1u);
  EXPECT_THAT(first.subscribers(), ElementsAre("alice"));
  EXPECT_EQ(first.subscriber_count(), 1u);
  Subscribe("news", "bob");
  v1::PublishResponse second = Publish("news", "two");
  EXPECT_EQ(second.seq(), 2u);
  EXPECT_THAT(second.subscribers(), ElementsAre("alice", "bob"));
  EXPECT_EQ(Publish("quiet", "x").seq(), 1u);  // per channel
  EXPECT_EQ(Publish("quiet", "x").subscriber_count(), 0u);

  v1::HistoryRequest h;
  h.set_channel("news");
  auto all = ch_->History(h);
  ASSERT_EQ(all->messages_size(), 2);
  EXPECT_EQ(all->messages(0).body(), "one");
  EXPECT_EQ(all->messages(1).seq(), 2u);
  EXPECT_EQ(all->messages(1).from(), "bob");
  h.set_after_seq(1);
  EXPECT_EQ(ch_->History(h)->messages(0).body(), "two");
  h.set_after_seq(0);
  h.set_max_messages(1);
  EXPECT_TRUE(ch_->History(h)->has_more());
}

TEST_F(ChannelsTest, SequencesSurviveARestart) {
  Publish("news", "one");
  ch_.reset();
  history_.reset();
  history_ = testing::OpenTestTable(dir_.path(), kHistoryTable);
  ch_ = std::make_unique<Channels>(subs_.get(), history_.get(), limits_, &clock_);
  EXPECT_EQ(Publish("news", "two").seq(), 2u);
}

TEST_F(ChannelsTest, BadInput) {
  v1::SubscribeRequest s;
  s.set_channel("news");
  EXPECT_EQ(ch_->Subscribe(s).status().code(), absl::StatusCode::kInvalidArgument);
  s.set_agent_id("alice");
  s.set_channel(std::string(33, 'c'));
  EXPECT_EQ(ch_->Subscribe(s).status().code(), absl::StatusCode::kInvalidArgument);
  v1::PublishRequest p;
  p.set_channel("news");
  p.set_body(std::string(101, 'b'));
  EXPECT_EQ(ch_->Publish(p).status().code(), absl::StatusCode::kInvalidArgument);
  p.set_body("ok");
  p.set_from("bad from");
  EXPECT_EQ(ch_->Publish(p).status().code(), absl::StatusCode::kInvalidArgument);
  v1::HistoryRequest h;
  h.set_channel("news");
  h.set_max_messages(5000);
  EXPECT_EQ(ch_->History(h).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(subs_->Stats().records() + history_->Stats().records(), 0u);
}

}  // namespace
}  // namespace agentcom::channels
