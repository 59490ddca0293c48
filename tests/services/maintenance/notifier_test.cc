// Webhooks (REQUIREMENTS O5): which events page operators, and delivery to a
// real HTTP receiver on loopback.
#include "services/maintenance/notifier.h"

#include <google/protobuf/util/json_util.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/fake_http_server.h"

namespace agentcom::maintenance {
namespace {

using testing::FakeHttpServer;

v1::Event MakeEvent(const std::string& type, const std::string& trigger) {
  v1::Event e;
  e.set_id(7);
  e.set_type(type);
  e.set_table("agent_mailbox");
  if (!trigger.empty()) (*e.mutable_details())["trigger"] = trigger;
  return e;
}

TEST(NotifierTest, OnlyCompactionFailuresAutoRestoresAndRecoveryFailuresNotify) {
  EXPECT_TRUE(ShouldNotify(MakeEvent("compaction_failed", "")));
  EXPECT_TRUE(ShouldNotify(MakeEvent("recovery_complete", "auto")));
  EXPECT_TRUE(ShouldNotify(MakeEvent("recovery_failed", "manual")));
  EXPECT_FALSE(ShouldNotify(MakeEvent("recovery_complete", "manual")));
  EXPECT_FALSE(ShouldNotify(MakeEvent("compaction_complete", "")));
  EXPECT_FALSE(ShouldNotify(MakeEvent("backup_complete", "")));
  EXPECT_FALSE(ShouldNotify(MakeEvent("backup_failed", "")));
  EXPECT_FALSE(ShouldNotify(MakeEvent("corruption_detected", "")));
}

TEST(NotifierTest, PostsEachNotifiableEventAsJsonToEveryUrl) {
  FakeHttpServer a([](const FakeHttpServer::Request&) { return FakeHttpServer::Reply{204, ""}; });
  FakeHttpServer b([](const FakeHttpServer::Request&) { return FakeHttpServer::Reply{500, "no"}; });
  {
    // The first URL refuses connections: delivery goes on to the others.
    WebhookNotifier notifier({"http://127.0.0.1:1/hook", "http://" + a.address() + "/hook",
                              "http://" + b.address() + "/other"});
    notifier.Notify(MakeEvent("backup_complete", ""));  // not notifiable
    notifier.Notify(MakeEvent("recovery_complete", "auto"));
    notifier.Notify(MakeEvent("compaction_failed", ""));
    ASSERT_TRUE(a.WaitForRequests(2, absl::Seconds(30)));
    ASSERT_TRUE(b.WaitForRequests(2, absl::Seconds(30)));
  }
  const auto got = a.requests();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].method, "POST");
  EXPECT_EQ(got[0].target, "/hook");
  EXPECT_EQ(got[0].content_type, "application/json");
  v1::Event parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(got[0].body, &parsed).ok())
      << got[0].body;
  EXPECT_EQ(parsed.type(), "recovery_complete");
  EXPECT_EQ(parsed.table(), "agent_mailbox");
  EXPECT_EQ(parsed.details().at("trigger"), "auto");
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(got[1].body, &parsed).ok());
  EXPECT_EQ(parsed.type(), "compaction_failed");
}

TEST(NotifierTest, WithoutUrlsNothingIsQueued) {
  WebhookNotifier notifier({});
  notifier.Notify(MakeEvent("compaction_failed", ""));  // returns at once, posts nothing
}

}  // namespace
}  // namespace agentcom::maintenance
