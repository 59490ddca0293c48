// A store process in-process over real gRPC (issue 2): auth on every RPC,
// reflection as grpcurl uses it, StoreAdmin operations, and corruption on disk
// found on the hot path and reported once to a fake maintenance server.
#include "services/store_admin/store_process.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agentcom/mailbox/v1/mailbox.grpc.pb.h"
#include "agentcom/store_admin/v1/store_admin.grpc.pb.h"
#include "common/reflection/reflection_client.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "services/mailbox/mailbox_service.h"
#include "services/tools/grpcurl_cli.h"
#include "tests/support/fake_maintenance.h"
#include "tests/support/test_support.h"

namespace agentcom::store_admin {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
namespace mbx = ::agentcom::mailbox::v1;

class StoreProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    topology_ = testing::MakeTopology(dir_.path(),
                                      {{"mailbox", {"agent_mailbox", "spare_table"}}},
                                      fake_.address());
    Start();
    agent_token_ = testing::ReadFile(topology_.tokens().agent_token_file());
    admin_token_ = testing::ReadFile(topology_.tokens().admin_token_file());
  }
  void Start() {
    auto p = StoreProcess::Start(topology_, "mailbox", mailbox::MailboxStoreDefinition(), {});
    ASSERT_TRUE(p.ok()) << p.status();
    process_ = *std::move(p);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", process_->port()),
                                   grpc::InsecureChannelCredentials());
    mailbox_ = mbx::Mailbox::NewStub(channel_);
    admin_ = v1::StoreAdmin::NewStub(channel_);
  }
  grpc::Status Enqueue(const std::string& token, const std::string& agent,
                       const std::string& body, mbx::EnqueueResponse* out = nullptr) {
    grpc::ClientContext ctx;
    if (!token.empty()) testing::Authorize(&ctx, token);
    mbx::EnqueueRequest r;
    r.set_agent_id(agent);
    r.mutable_message()->set_body(body);
    mbx::EnqueueResponse resp;
    return mailbox_->Enqueue(&ctx, r, out ? out : &resp);
  }
  // Polls every page of the agent's inbox; returns the first error.
  grpc::Status PollAll(const std::string& agent) {
    uint64_t after = 0;
    while (true) {
      grpc::ClientContext ctx;
      testing::Authorize(&ctx, agent_token_);
      mbx::PollRequest r;
      r.set_agent_id(agent);
      r.set_after_seq(after);
      r.set_max_messages(1000);
      mbx::PollResponse page;
      grpc::Status s = mailbox_->Poll(&ctx, r, &page);
      if (!s.ok() || !page.has_more()) return s;
      after = page.messages(page.messages_size() - 1).seq();
    }
  }
  grpc::Status Stats(const std::string& table, common::v1::TableStats* out) {
    grpc::ClientContext ctx;
    testing::Authorize(&ctx, admin_token_);
    v1::GetTableStatsRequest r;
    r.set_table(table);
    return admin_->GetTableStats(&ctx, r, out);
  }

  testing::TempDir dir_;
  testing::FakeMaintenance fake_;
  config::Topology topology_;
  std::unique_ptr<StoreProcess> process_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<mbx::Mailbox::Stub> mailbox_;
  std::unique_ptr<v1::StoreAdmin::Stub> admin_;
  std::string agent_token_, admin_token_;
};

TEST_F(StoreProcessTest, EveryRpcChecksTheToken) {
  EXPECT_EQ(Enqueue("", "alice", "x").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Enqueue("wrong-token-000000", "alice", "x").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(Enqueue(agent_token_, "alice", "x").ok());

  grpc::ClientContext ctx;
  testing::Authorize(&ctx, agent_token_);
  v1::ListTablesResponse tables;
  grpc::Status denied = admin_->ListTables(&ctx, v1::ListTablesRequest(), &tables);
  EXPECT_EQ(denied.error_code(), grpc::StatusCode::PERMISSION_DENIED);

  grpc::ClientContext admin_ctx;
  testing::Authorize(&admin_ctx, admin_token_);
  ASSERT_TRUE(admin_->ListTables(&admin_ctx, v1::ListTablesRequest(), &tables).ok());
  ASSERT_EQ(tables.tables_size(), 2);
  EXPECT_EQ(tables.tables(0).table(), "agent_mailbox");
  EXPECT_EQ(tables.tables(0).records(), 2u);  // the message and the agent's sequence

  // Health needs no token.
  auto health = grpc::health::v1::Health::NewStub(channel_);
  grpc::ClientContext hctx;
  grpc::health::v1::HealthCheckResponse hr;
  ASSERT_TRUE(health->Check(&hctx, grpc::health::v1::HealthCheckRequest(), &hr).ok());
  EXPECT_EQ(hr.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST_F(StoreProcessTest, OversizedRequestsAreRefusedBeforeTheHandler) {
  grpc::Status s = Enqueue(agent_token_, "alice",
                           std::string(topology_.limits().max_request_bytes() + 1, 'x'));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  grpc::Status limit = Enqueue(agent_token_, "alice",
                               std::string(topology_.limits().max_body_bytes() + 1, 'x'));
  EXPECT_EQ(limit.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  common::v1::TableStats stats;
  ASSERT_TRUE(Stats("agent_mailbox", &stats).ok());
  EXPECT_EQ(stats.records(), 0u);
}

TEST_F(StoreProcessTest, ReflectionListsTheServicesAsGrpcurlDoes) {
  reflection::ReflectionClient client(channel_, {}, absl::Seconds(10));
  auto services = client.ListServices();
  ASSERT_TRUE(services.ok()) << services.status();
  EXPECT_THAT(*services, Contains("agentcom.store_admin.v1.StoreAdmin"));
  EXPECT_THAT(*services, Contains("agentcom.mailbox.v1.Mailbox"));
  EXPECT_THAT(*services, Contains("grpc.health.v1.Health"));
  auto method = client.FindMethod("agentcom.store_admin.v1.StoreAdmin/Snapshot");
  ASSERT_TRUE(method.ok()) << method.status();
  EXPECT_EQ((*method)->input_type()->full_name(), "agentcom.store_admin.v1.SnapshotRequest");

  // The grpcurl-compatible CLI, end to end, with JSON in and out.
  std::istringstream in;
  std::ostringstream out, err;
  const std::string address = absl::StrCat("127.0.0.1:", process_->port());
  int rc = tools::RunGrpcurl(
      {"-plaintext", "-H", "authorization: Bearer " + agent_token_, "-d",
       R"({"agent_id":"alice","message":{"body":"aGk="}})", address,
       "agentcom.mailbox.v1.Mailbox/Enqueue"},
      in, out, err);
  EXPECT_EQ(rc, 0) << err.str();
  EXPECT_THAT(out.str(), HasSubstr("\"seq\": \"1\""));

  std::ostringstream out2, err2;
  rc = tools::RunGrpcurl({"-plaintext", "-H", "authorization: Bearer " + agent_token_, "-d",
                          R"({"table":"agent_mailbox"})", address,
                          "agentcom.store_admin.v1.StoreAdmin/Verify"},
                         in, out2, err2);
  EXPECT_EQ(rc, 64 + 7);  // PERMISSION_DENIED, as grpcurl reports it
  EXPECT_THAT(err2.str(), HasSubstr("Code: PermissionDenied"));
}

TEST_F(StoreProcessTest, StoreAdminOperations) {
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(Enqueue(agent_token_, "alice", "hello").ok());
  grpc::ClientContext c1;
  testing::Authorize(&c1, admin_token_);
  v1::SnapshotRequest sr;
  sr.set_table("agent_mailbox");
  v1::SnapshotResponse snap;
  ASSERT_TRUE(admin_->Snapshot(&c1, sr, &snap).ok());
  EXPECT_EQ(snap.manifest().record_count(), 201u);
  EXPECT_GT(snap.size_bytes(), 0u);

  grpc::ClientContext c2;
  testing::Authorize(&c2, admin_token_);
  v1::VerifyRequest vr;
  vr.set_table("agent_mailbox");
  v1::VerifyResponse verify;
  ASSERT_TRUE(admin_->Verify(&c2, vr, &verify).ok());
  EXPECT_EQ(verify.content_hash(), snap.manifest().content_hash());

  grpc::ClientContext c3;
  testing::Authorize(&c3, admin_token_);
  v1::CompactRequest cr;
  cr.set_table("agent_mailbox");
  v1::CompactResponse compact;
  ASSERT_TRUE(admin_->Compact(&c3, cr, &compact).ok());
  EXPECT_EQ(compact.after().records(), 201u);

  grpc::ClientContext c4;
  testing::Authorize(&c4, admin_token_);
  v1::ReopenRequest rr;
  rr.set_table("agent_mailbox");
  v1::ReopenResponse reopen;
  ASSERT_TRUE(admin_->Reopen(&c4, rr, &reopen).ok());
  EXPECT_EQ(reopen.stats().records(), 201u);

  common::v1::TableStats stats;
  grpc::Status unknown = Stats("../../etc/passwd", &stats);
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(unknown.error_message(), HasSubstr("table ../../etc/passwd"));
}

TEST_F(StoreProcessTest, FlippedBytesFailTheReadAndAreReportedOnce) {
  for (int i = 0; i < 3000; ++i) {
    ASSERT_TRUE(Enqueue(agent_token_, "alice", std::string(200, 'm')).ok());
  }
  {
    grpc::ClientContext ctx;
    testing::Authorize(&ctx, admin_token_);
    v1::CompactRequest cr;
    cr.set_table("agent_mailbox");
    v1::CompactResponse resp;
    ASSERT_TRUE(admin_->Compact(&ctx, cr, &resp).ok());
  }
  process_.reset();
  testing::FlipBytesInLargestTableFile(topology_.data_dir() + "/agent_mailbox");
  Start();

  grpc::Status s = PollAll("alice");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(s.error_message(), HasSubstr("table agent_mailbox is corrupted"));
  // Later requests fail fast the same way.
  EXPECT_EQ(PollAll("alice").error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(Enqueue(agent_token_, "alice", "x").error_code(), grpc::StatusCode::UNAVAILABLE);

  common::v1::TableStats stats;
  ASSERT_TRUE(Stats("agent_mailbox", &stats).ok());
  EXPECT_EQ(stats.state(), common::v1::TABLE_STATE_CORRUPTED);

  ASSERT_TRUE(fake_.WaitForReports(1, absl::Seconds(10)));
  EXPECT_EQ(PollAll("alice").error_code(), grpc::StatusCode::UNAVAILABLE);
  absl::SleepFor(absl::Milliseconds(500));
  ASSERT_EQ(fake_.reports().size(), 1u);
  EXPECT_EQ(fake_.reports()[0].store(), "mailbox");
  EXPECT_EQ(fake_.reports()[0].table(), "agent_mailbox");
  EXPECT_EQ(fake_.authorizations()[0], "Bearer " + admin_token_);

  // The other table of the same process keeps serving.
  grpc::ClientContext vctx;
  testing::Authorize(&vctx, admin_token_);
  v1::VerifyRequest vr;
  vr.set_table("spare_table");
  v1::VerifyResponse verify;
  EXPECT_TRUE(admin_->Verify(&vctx, vr, &verify).ok());
  ASSERT_TRUE(Stats("spare_table", &stats).ok());
  EXPECT_EQ(stats.state(), common::v1::TABLE_STATE_OK);

  const std::string metrics = testing::HttpGet(process_->metrics_port(), "/metrics");
  EXPECT_THAT(metrics, HasSubstr("agentcom_corruption_detections_total{table=\"agent_mailbox\"} 1"));
  EXPECT_THAT(metrics,
              HasSubstr("agentcom_table_state{table=\"agent_mailbox\",state=\"corrupted\"} 1"));
}

}  // namespace
}  // namespace agentcom::store_admin
