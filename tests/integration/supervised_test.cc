// The stores under a real supervisord, from the same config the run command
// uses (issue 2, item 9): processes RUNNING, called over gRPC with tokens,
// /metrics scraped, the printed grpcurl command works, data survives a
// restart through supervisord.
#include <grpcpp/client_context.h>

#include "absl/strings/str_cat.h"
#include "agentcom/config/v1/config.grpc.pb.h"
#include "agentcom/channels/v1/channels.grpc.pb.h"
#include "agentcom/mailbox/v1/mailbox.grpc.pb.h"
#include "agentcom/message_history/v1/message_history.grpc.pb.h"
#include "agentcom/task_queue/v1/task_queue.grpc.pb.h"
#include "agentcom/threads/v1/threads.grpc.pb.h"
#include "agentcom/store_admin/v1/store_admin.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/supervised_system.h"
#include "tests/support/test_support.h"

namespace agentcom::testing {
namespace {

using ::testing::HasSubstr;

class SupervisedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    system_ = SupervisedSystem::Start(dir_.path());
    ASSERT_NE(system_, nullptr);
  }
  uint64_t Enqueue(const std::string& agent) {
    auto stub = mailbox::v1::Mailbox::NewStub(system_->Channel("mailbox"));
    grpc::ClientContext ctx;
    Authorize(&ctx, system_->agent_token());
    mailbox::v1::EnqueueRequest r;
    r.set_agent_id(agent);
    r.mutable_message()->set_body("hello");
    mailbox::v1::EnqueueResponse resp;
    grpc::Status s = stub->Enqueue(&ctx, r, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.seq();
  }

  TempDir dir_;
  std::unique_ptr<SupervisedSystem> system_;
};

TEST_F(SupervisedTest, StoresRunServeAndExposeMetrics) {
  const std::string status = system_->Supervisorctl("status");
  for (const auto& store : system_->topology().stores()) {
    EXPECT_THAT(status, ::testing::ContainsRegex(store.name() + " +RUNNING")) << status;
  }

  EXPECT_EQ(Enqueue("alice"), 1u);
  EXPECT_EQ(Enqueue("alice"), 2u);

  auto config = config::v1::Config::NewStub(system_->Channel("config"));
  {
    grpc::ClientContext ctx;
    Authorize(&ctx, system_->agent_token());
    config::v1::PutRequest put;
    put.set_key("agents/alice/model");
    put.set_value("m1");
    config::v1::Entry entry;
    ASSERT_TRUE(config->Put(&ctx, put, &entry).ok());
    EXPECT_EQ(entry.version(), 1u);
  }
  {
    grpc::ClientContext ctx;  // no token
    config::v1::GetRequest get;
    get.set_key("agents/alice/model");
    config::v1::Entry entry;
    EXPECT_EQ(config->Get(&ctx, get, &entry).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    auto admin = store_admin::v1::StoreAdmin::NewStub(system_->Channel("config"));
    grpc::ClientContext ctx;
    Authorize(&ctx, system_->agent_token());
    store_admin::v1::ListTablesResponse tables;
    EXPECT_EQ(admin->ListTables(&ctx, {}, &tables).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }

  for (const auto& store : system_->topology().stores()) {
    const std::string metrics = HttpGet(system_->MetricsPort(store.name()), "/metrics");
    for (const auto& table : store.tables()) {
      const std::string label = absl::StrCat("{table=\"", table.name(), "\"}");
      EXPECT_THAT(metrics, HasSubstr("agentcom_table_records" + label)) << store.name();
      EXPECT_THAT(metrics, HasSubstr("agentcom_table_fragmentation_ratio" + label));
      EXPECT_THAT(metrics, HasSubstr(absl::StrCat("agentcom_table_state{table=\"",
                                                  table.name(), "\",state=\"ok\"} 1")));
    }
  }
  // Two messages and alice's sequence record.
  EXPECT_THAT(HttpGet(system_->MetricsPort("mailbox"), "/metrics"),
              HasSubstr("agentcom_table_records{table=\"agent_mailbox\"} 3"));
}

TEST_F(SupervisedTest, AllSixStoresAnswerTheirAgentApi) {
  ASSERT_EQ(system_->topology().stores_size(), 6);
  const std::string token = system_->agent_token();
  {
    auto stub = task_queue::v1::TaskQueue::NewStub(system_->Channel("task_queue"));
    grpc::ClientContext ctx;
    Authorize(&ctx, token);
    task_queue::v1::SubmitRequest r;
    r.set_type("summarise");
    task_queue::v1::SubmitResponse out;
    ASSERT_TRUE(stub->Submit(&ctx, r, &out).ok());
    grpc::ClientContext actx;
    Authorize(&actx, token);
    task_queue::v1::AssignRequest a;
    a.set_agent_id("worker-1");
    a.add_types("summarise");
    task_queue::v1::Task task;
    ASSERT_TRUE(stub->Assign(&actx, a, &task).ok());
    EXPECT_EQ(task.id(), out.id());
  }
  {
    auto stub = channels::v1::Channels::NewStub(system_->Channel("channels"));
    grpc::ClientContext ctx;
    Authorize(&ctx, token);
    channels::v1::PublishRequest r;
    r.set_channel("news");
    r.set_body("hello");
    channels::v1::PublishResponse out;
    ASSERT_TRUE(stub->Publish(&ctx, r, &out).ok());
    EXPECT_EQ(out.seq(), 1u);
  }
  {
    auto stub = threads::v1::Threads::NewStub(system_->Channel("threads"));
    grpc::ClientContext ctx;
    Authorize(&ctx, token);
    threads::v1::IndexRequest r;
    r.mutable_message()->set_id("m1");
    threads::v1::IndexResponse out;
    ASSERT_TRUE(stub->Index(&ctx, r, &out).ok());
    EXPECT_EQ(out.root_id(), "m1");
  }
  {
    auto stub = message_history::v1::MessageHistory::NewStub(system_->Channel("message_history"));
    grpc::ClientContext ctx;
    Authorize(&ctx, token);
    message_history::v1::StoreRequest r;
    r.mutable_message()->set_id("m1");
    r.mutable_message()->set_from("alice");
    message_history::v1::StoreResponse out;
    ASSERT_TRUE(stub->Store(&ctx, r, &out).ok());
    EXPECT_TRUE(out.created());
  }
}

TEST_F(SupervisedTest, ThePrintedGrpcurlCommandWorks) {
  const auto& mailbox = **config::FindStore(system_->topology(), "mailbox");
  // As deploy/run.sh prints it, with this system's token file and address.
  const std::string command = absl::StrCat(
      AGENTCOM_BIN_DIR, "/agentcom_grpcurl -plaintext -H \"authorization: Bearer $(cat ",
      system_->topology().tokens().agent_token_file(),
      ")\" -d '{\"agent_id\":\"alice\",\"message\":{\"body\":\"aGVsbG8=\"}}' ", mailbox.address(),
      " agentcom.mailbox.v1.Mailbox/Enqueue");
  int status = -1;
  const std::string out = RunCommand(command, &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_THAT(out, HasSubstr("\"seq\": \"1\""));

  const std::string list = RunCommand(
      absl::StrCat(AGENTCOM_BIN_DIR, "/agentcom_grpcurl -plaintext ", mailbox.address(), " list"),
      &status);
  EXPECT_THAT(list, HasSubstr("agentcom.store_admin.v1.StoreAdmin"));
  EXPECT_THAT(list, HasSubstr("grpc.health.v1.Health"));
}

TEST_F(SupervisedTest, DataAndSequencesSurviveARestartThroughSupervisord) {
  EXPECT_EQ(Enqueue("bob"), 1u);
  EXPECT_EQ(Enqueue("bob"), 2u);
  EXPECT_THAT(system_->Supervisorctl("restart mailbox"), HasSubstr("started"));
  ASSERT_TRUE(system_->WaitServing(absl::Seconds(30)));
  EXPECT_EQ(Enqueue("bob"), 3u);
}

}  // namespace
}  // namespace agentcom::testing
