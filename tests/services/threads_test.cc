// Threads (issue 3): root derivation, thread order, replies, idempotent
// indexing, a crash between the two tables, bad input.
#include "services/threads/threads.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_support.h"

namespace agentcom::threads {
namespace {

using ::testing::ElementsAre;

class ThreadsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    limits_.set_max_body_bytes(100);
    limits_.set_max_id_bytes(32);
    messages_ = testing::OpenTestTable(dir_.path(), kMessagesTable);
    replies_ = testing::OpenTestTable(dir_.path(), kRepliesTable);
    t_ = std::make_unique<Threads>(messages_.get(), replies_.get(), limits_, &clock_);
  }
  absl::StatusOr<v1::IndexResponse> Index(const std::string& id, const std::string& reply_to = "",
                                          const std::string& body = "hi") {
    v1::IndexRequest r;
    r.mutable_message()->set_id(id);
    r.mutable_message()->set_from("alice");
    r.mutable_message()->set_body(body);
    r.mutable_message()->set_reply_to(reply_to);
    clock_.Advance(absl::Seconds(1));
    return t_->Index(r);
  }
  std::vector<std::string> Ids(const google::protobuf::RepeatedPtrField<v1::ThreadMessage>& ms) {
    std::vector<std::string> ids;
    for (const auto& m : ms) ids.push_back(m.id());
    return ids;
  }

  testing::TempDir dir_;
  topology::v1::Limits limits_;
  ManualClock clock_;
  std::unique_ptr<storage::Table> messages_, replies_;
  std::unique_ptr<Threads> t_;
};

TEST_F(ThreadsTest, RootsAreDerivedAndThreadsReadInTimeOrder) {
  EXPECT_EQ(Index("m1")->root_id(), "m1");
  EXPECT_EQ(Index("m2", "m1")->root_id(), "m1");
  EXPECT_EQ(Index("m3", "m2")->root_id(), "m1");  // reply to a reply
  EXPECT_EQ(Index("m4", "m1")->root_id(), "m1");
  EXPECT_EQ(Index("x1")->root_id(), "x1");

  v1::GetThreadRequest g;
  g.set_root_id("m1");
  auto thread = t_->GetThread(g);
  ASSERT_TRUE(thread.ok());
  EXPECT_THAT(Ids(thread->messages()), ElementsAre("m1", "m2", "m3", "m4"));
  EXPECT_EQ(thread->messages(2).root_id(), "m1");

  v1::GetRepliesRequest rep;
  rep.set_message_id("m1");
  EXPECT_THAT(Ids(t_->GetReplies(rep)->messages()), ElementsAre("m2", "m4"));
  rep.set_message_id("m4");
  EXPECT_TRUE(t_->GetReplies(rep)->messages().empty());

  g.set_page_size(3);
  auto first = t_->GetThread(g);
  EXPECT_EQ(first->messages_size(), 3);
  g.set_page_token(first->next_page_token());
  EXPECT_THAT(Ids(t_->GetThread(g)->messages()), ElementsAre("m4"));
  v1::GetThreadRequest missing;
  missing.set_root_id("nope");
  EXPECT_EQ(t_->GetThread(missing).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ThreadsTest, IndexIsIdempotentForTheSameContent) {
  ASSERT_TRUE(Index("m1").ok());
  v1::IndexRequest again;
  again.mutable_message()->set_id("m1");
  again.mutable_message()->set_from("alice");
  again.mutable_message()->set_body("hi");
  EXPECT_EQ(t_->Index(again)->root_id(), "m1");
  EXPECT_EQ(Index("m1", "", "different").status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(messages_->Stats().records(), 2u);  // the message and its thread entry
}

TEST_F(ThreadsTest, ReplyToAnUnknownMessageIsNotFound) {
  auto r = Index("m2", "ghost");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(messages_->Stats().records(), 0u);
}

TEST_F(ThreadsTest, ACrashBetweenTheTablesIsFinishedByRecover) {
  ASSERT_TRUE(Index("m1").ok());
  testing::FailingTable failing(replies_.get());
  Threads crashing(messages_.get(), &failing, limits_, &clock_);
  failing.fail_writes = true;
  v1::IndexRequest r;
  r.mutable_message()->set_id("m2");
  r.mutable_message()->set_reply_to("m1");
  EXPECT_EQ(crashing.Index(r).status().code(), absl::StatusCode::kUnavailable);

  Threads restarted(messages_.get(), replies_.get(), limits_, &clock_);
  ASSERT_TRUE(restarted.Recover().ok());
  v1::GetRepliesRequest rep;
  rep.set_message_id("m1");
  EXPECT_THAT(Ids(restarted.GetReplies(rep)->messages()), ElementsAre("m2"));
}

TEST_F(ThreadsTest, BadInput) {
  EXPECT_EQ(Index("").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Index(std::string(33, 'i')).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Index("m1", "m1").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Index("m1", "", std::string(101, 'b')).status().code(),
            absl::StatusCode::kInvalidArgument);
  v1::GetThreadRequest g;
  g.set_root_id("m1");
  g.set_page_token("garbage!");
  EXPECT_EQ(t_->GetThread(g).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(messages_->Stats().records(), 0u);
}

}  // namespace
}  // namespace agentcom::threads
