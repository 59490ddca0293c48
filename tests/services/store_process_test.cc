// A store process in-process over real gRPC (issue 2): auth on every RPC,
// reflection as grpcurl uses it, StoreAdmin operations, and corruption on disk
// found on the hot path and reported once to a fake maintenance server.
#include "services/store_admin/store_process.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agentcom/channels/v1/channels.grpc.pb.h"
#include "agentcom/config/v1/config.grpc.pb.h"
#include "agentcom/mailbox/v1/mailbox.grpc.pb.h"
#include "agentcom/message_history/v1/message_history.grpc.pb.h"
#include "agentcom/store_admin/v1/store_admin.grpc.pb.h"
#include "agentcom/task_queue/v1/task_queue.grpc.pb.h"
#include "agentcom/threads/v1/threads.grpc.pb.h"
#include "common/reflection/reflection_client.h"
#include "common/storage/backup.h"
#include "common/storage/linked_writer.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "services/channels/channels_service.h"
#include "services/config/config_service.h"
#include "services/mailbox/mailbox_service.h"
#include "services/message_history/message_history_service.h"
#include "services/task_queue/task_queue.h"
#include "services/task_queue/task_queue_service.h"
#include "services/threads/threads_service.h"
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
    topology_ = testing::MakeTopology(dir_.path(), {{"mailbox", {"agent_mailbox", "spare_table"}}},
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
  grpc::Status Enqueue(const std::string& token, const std::string& agent, const std::string& body,
                       mbx::EnqueueResponse* out = nullptr) {
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
  grpc::Status s =
      Enqueue(agent_token_, "alice", std::string(topology_.limits().max_request_bytes() + 1, 'x'));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  grpc::Status limit =
      Enqueue(agent_token_, "alice", std::string(topology_.limits().max_body_bytes() + 1, 'x'));
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
  int rc = tools::RunGrpcurl({"-plaintext", "-H", "authorization: Bearer " + agent_token_, "-d",
                              R"({"agent_id":"alice","message":{"body":"aGk="}})", address,
                              "agentcom.mailbox.v1.Mailbox/Enqueue"},
                             in, out, err);
  EXPECT_EQ(rc, 0) << err.str();
  EXPECT_THAT(out.str(), HasSubstr("\"seq\": \"1\""));

  std::ostringstream out2, err2;
  rc = tools::RunGrpcurl(
      {"-plaintext", "-H", "authorization: Bearer " + agent_token_, "-d",
       R"({"table":"agent_mailbox"})", address, "agentcom.store_admin.v1.StoreAdmin/Verify"},
      in, out2, err2);
  EXPECT_EQ(rc, 64 + 7);  // PERMISSION_DENIED, as grpcurl reports it
  EXPECT_THAT(err2.str(), HasSubstr("Code: PermissionDenied"));

  // A Watch streams until -max-time, as the README shows it.
  std::ostringstream out3, err3;
  rc = tools::RunGrpcurl(
      {"-plaintext", "-max-time", "1", "-H", "authorization: Bearer " + agent_token_, "-d",
       R"({"agent_id":"alice"})", address, "agentcom.mailbox.v1.Mailbox/Watch"},
      in, out3, err3);
  EXPECT_EQ(rc, 64 + 4) << err3.str();  // DEADLINE_EXCEEDED, after the stored message
  EXPECT_THAT(out3.str(), HasSubstr("\"seq\": \"1\""));
  EXPECT_THAT(out3.str(), HasSubstr("\"body\": \"aGk=\""));
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
  EXPECT_EQ(verify.record_count(), snap.manifest().record_count());
  auto restored = storage::VerifyBackup(
      storage::BackupPath(topology_.backup_dir(), "agent_mailbox", snap.manifest().backup_id()));
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(verify.content_hash(), restored->content_hash());  // a verification open's

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

// Issue 12: a table maintenance installed opens RESTORING; agents get
// UNAVAILABLE until FinishRestore has verified it, operators can read its
// state, and a wrong expectation leaves it unserved.
TEST_F(StoreProcessTest, ARestoredTableServesOnlyAfterFinishRestore) {
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(Enqueue(agent_token_, "alice", "hello").ok());
  process_.reset();
  std::ofstream(topology_.data_dir() + "/agent_mailbox/" + storage::kRestoringMarkerFile) << "x\n";
  Start();
  grpc::Status early = Enqueue(agent_token_, "alice", "too early");
  EXPECT_EQ(early.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(early.error_message(), HasSubstr("being restored"));
  EXPECT_EQ(PollAll("alice").error_code(), grpc::StatusCode::UNAVAILABLE);
  common::v1::TableStats stats;
  ASSERT_TRUE(Stats("agent_mailbox", &stats).ok());
  EXPECT_EQ(stats.state(), common::v1::TABLE_STATE_RESTORING);
  ASSERT_TRUE(Stats("spare_table", &stats).ok());
  EXPECT_EQ(stats.state(), common::v1::TABLE_STATE_OK);

  auto finish = [&](const std::string& token, uint64_t records, v1::FinishRestoreResponse* out) {
    grpc::ClientContext ctx;
    testing::Authorize(&ctx, token);
    v1::FinishRestoreRequest r;
    r.set_table("agent_mailbox");
    r.set_record_count(records);
    return admin_->FinishRestore(&ctx, r, out);
  };
  v1::FinishRestoreResponse out;
  EXPECT_EQ(finish(agent_token_, 51, &out).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  grpc::Status wrong = finish(admin_token_, 52, &out);
  EXPECT_EQ(wrong.error_code(), grpc::StatusCode::DATA_LOSS);
  EXPECT_THAT(wrong.error_message(), HasSubstr("51 records"));
  EXPECT_EQ(Enqueue(agent_token_, "alice", "still early").error_code(),
            grpc::StatusCode::UNAVAILABLE);
  ASSERT_TRUE(finish(admin_token_, 51, &out).ok());  // 50 messages + the sequence record
  EXPECT_EQ(out.verified().record_count(), 51u);
  EXPECT_EQ(out.stats().state(), common::v1::TABLE_STATE_OK);
  EXPECT_TRUE(Enqueue(agent_token_, "alice", "served").ok());
  EXPECT_EQ(finish(admin_token_, 52, &out).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
}

// A change spanning two tables that start-up could not finish because the
// second table was RESTORING is finished once that table serves.
TEST(StoreProcessRestoreTest, CrossTableChangesAreFinishedWhenARestoredTableServes) {
  testing::TempDir dir;
  testing::FakeMaintenance fake;
  config::Topology topology = testing::MakeTopology(
      dir.path(), {{"task_queue", {task_queue::kQueueTable, task_queue::kDeadLetterTable}}},
      fake.address());
  {
    auto queue = testing::OpenTestTable(topology.data_dir(), task_queue::kQueueTable);
    auto dead = testing::OpenTestTable(topology.data_dir(), task_queue::kDeadLetterTable);
    testing::FailingTable failing(dead.get());
    failing.fail_writes = true;  // the process dies between the two halves
    storage::TableBatch first, second;
    first.Put("probe-first", "1");
    second.Put("probe-second", "2");
    ASSERT_EQ(storage::LinkedWriter(queue.get(), &failing).Apply(first, second).code(),
              absl::StatusCode::kUnavailable);
  }
  std::ofstream(topology.data_dir() + "/" + task_queue::kDeadLetterTable + "/" +
                storage::kRestoringMarkerFile)
      << "x\n";
  auto p = StoreProcess::Start(topology, "task_queue", task_queue::TaskQueueStoreDefinition(), {});
  ASSERT_TRUE(p.ok()) << p.status();
  storage::Table* dead = *(*p)->tables().Find(task_queue::kDeadLetterTable);
  EXPECT_EQ(dead->state(), common::v1::TABLE_STATE_RESTORING);

  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*p)->port()),
                                     grpc::InsecureChannelCredentials());
  auto admin = v1::StoreAdmin::NewStub(channel);
  grpc::ClientContext ctx;
  testing::Authorize(&ctx, testing::ReadFile(topology.tokens().admin_token_file()));
  v1::FinishRestoreRequest r;
  r.set_table(task_queue::kDeadLetterTable);
  r.set_record_count(0);
  v1::FinishRestoreResponse out;
  grpc::Status s = admin->FinishRestore(&ctx, r, &out);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(**dead->Get("probe-second"), "2");
  storage::Table* queue = *(*p)->tables().Find(task_queue::kQueueTable);
  int intents = 0;
  ASSERT_TRUE(
      queue->Scan(storage::kIntentPrefix, "", [&](auto, auto) { return ++intents, true; }).ok());
  EXPECT_EQ(intents, 0);
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
  EXPECT_THAT(metrics,
              HasSubstr("agentcom_corruption_detections_total{table=\"agent_mailbox\"} 1"));
  EXPECT_THAT(metrics,
              HasSubstr("agentcom_table_state{table=\"agent_mailbox\",state=\"corrupted\"} 1"));
}

}  // namespace

// Every store finds a flipped byte in its main table on its hot path, fails
// the request with UNAVAILABLE, and reports to maintenance (issue 3).
namespace {

struct StoreCase {
  std::string kind;
  StoreDefinition (*definition)();
  std::vector<std::string> tables;
  std::string corrupted_table;
  // Loads ~3000 records of ~200 bytes through the store's API.
  std::function<void(const std::shared_ptr<grpc::Channel>&, const std::string& token)> load;
  // Reads everything back through the API; returns the first error.
  std::function<grpc::Status(const std::shared_ptr<grpc::Channel>&, const std::string& token)>
      read_all;
};

constexpr int kRecords = 3000;
const std::string kBody(200, 'b');

std::vector<StoreCase> AllStores() {
  std::vector<StoreCase> cases;
  cases.push_back({"config",
                   config_store::ConfigStoreDefinition,
                   {"agentcom_config"},
                   "agentcom_config",
                   [](auto ch, auto token) {
                     auto stub = config::v1::Config::NewStub(ch);
                     for (int i = 0; i < kRecords; ++i) {
                       grpc::ClientContext ctx;
                       testing::Authorize(&ctx, token);
                       config::v1::PutRequest r;
                       r.set_key(absl::StrCat("k", i));
                       r.set_value(kBody);
                       config::v1::Entry e;
                       ASSERT_TRUE(stub->Put(&ctx, r, &e).ok());
                     }
                   },
                   [](auto ch, auto token) {
                     auto stub = config::v1::Config::NewStub(ch);
                     config::v1::ListRequest r;
                     r.set_page_size(1000);
                     while (true) {
                       grpc::ClientContext ctx;
                       testing::Authorize(&ctx, token);
                       config::v1::ListResponse page;
                       grpc::Status s = stub->List(&ctx, r, &page);
                       if (!s.ok() || page.next_page_token().empty()) return s;
                       r.set_page_token(page.next_page_token());
                     }
                   }});
  cases.push_back({"task_queue",
                   task_queue::TaskQueueStoreDefinition,
                   {"task_queue", "task_dead_letter"},
                   "task_queue",
                   [](auto ch, auto token) {
                     auto stub = task_queue::v1::TaskQueue::NewStub(ch);
                     for (int i = 0; i < kRecords; ++i) {
                       grpc::ClientContext ctx;
                       testing::Authorize(&ctx, token);
                       task_queue::v1::SubmitRequest r;
                       r.set_type("work");
                       r.set_payload(kBody);
                       task_queue::v1::SubmitResponse out;
                       ASSERT_TRUE(stub->Submit(&ctx, r, &out).ok());
                     }
                   },
                   [](auto ch, auto token) {
                     auto stub = task_queue::v1::TaskQueue::NewStub(ch);
                     task_queue::v1::ListRequest r;
                     r.set_status(task_queue::v1::TASK_STATUS_QUEUED);
                     r.set_page_size(1000);
                     while (true) {
                       grpc::ClientContext ctx;
                       testing::Authorize(&ctx, token);
                       task_queue::v1::ListResponse page;
                       grpc::Status s = stub->List(&ctx, r, &page);
                       if (!s.ok() || page.next_page_token().empty()) return s;
                       r.set_page_token(page.next_page_token());
                     }
                   }});
  cases.push_back({"channels",
                   channels::ChannelsStoreDefinition,
                   {"agent_channels", "channel_history"},
                   "channel_history",
                   [](auto ch, auto token) {
                     auto stub = channels::v1::Channels::NewStub(ch);
                     for (int i = 0; i < kRecords; ++i) {
                       grpc::ClientContext ctx;
                       testing::Authorize(&ctx, token);
                       channels::v1::PublishRequest r;
                       r.set_channel("news");
                       r.set_body(kBody);
                       channels::v1::PublishResponse out;
                       ASSERT_TRUE(stub->Publish(&ctx, r, &out).ok());
                     }
                   },
                   [](auto ch, auto token) {
                     auto stub = channels::v1::Channels::NewStub(ch);
                     channels::v1::HistoryRequest r;
                     r.set_channel("news");
                     r.set_max_messages(1000);
                     while (true) {
                       grpc::ClientContext ctx;
                       testing::Authorize(&ctx, token);
                       channels::v1::HistoryResponse page;
                       grpc::Status s = stub->History(&ctx, r, &page);
                       if (!s.ok() || !page.has_more()) return s;
                       r.set_after_seq(page.messages(page.messages_size() - 1).seq());
                     }
                   }});
  cases.push_back({"threads",
                   threads::ThreadsStoreDefinition,
                   {"thread_messages", "thread_replies"},
                   "thread_messages",
                   [](auto ch, auto token) {
                     auto stub = threads::v1::Threads::NewStub(ch);
                     for (int i = 0; i < kRecords; ++i) {
                       grpc::ClientContext ctx;
                       testing::Authorize(&ctx, token);
                       threads::v1::IndexRequest r;
                       r.mutable_message()->set_id(absl::StrCat("m", i));
                       r.mutable_message()->set_body(kBody);
                       if (i > 0) r.mutable_message()->set_reply_to("m0");
                       threads::v1::IndexResponse out;
                       ASSERT_TRUE(stub->Index(&ctx, r, &out).ok());
                     }
                   },
                   [](auto ch, auto token) {
                     auto stub = threads::v1::Threads::NewStub(ch);
                     threads::v1::GetThreadRequest r;
                     r.set_root_id("m0");
                     r.set_page_size(1000);
                     while (true) {
                       grpc::ClientContext ctx;
                       testing::Authorize(&ctx, token);
                       threads::v1::GetThreadResponse page;
                       grpc::Status s = stub->GetThread(&ctx, r, &page);
                       if (!s.ok() || page.next_page_token().empty()) return s;
                       r.set_page_token(page.next_page_token());
                     }
                   }});
  cases.push_back({"message_history",
                   message_history::MessageHistoryStoreDefinition,
                   {"message_history"},
                   "message_history",
                   [](auto ch, auto token) {
                     auto stub = message_history::v1::MessageHistory::NewStub(ch);
                     for (int i = 0; i < kRecords; ++i) {
                       grpc::ClientContext ctx;
                       testing::Authorize(&ctx, token);
                       message_history::v1::StoreRequest r;
                       r.mutable_message()->set_id(absl::StrCat("m", i));
                       r.mutable_message()->set_from("alice");
                       r.mutable_message()->set_body(kBody);
                       message_history::v1::StoreResponse out;
                       ASSERT_TRUE(stub->Store(&ctx, r, &out).ok());
                     }
                   },
                   [](auto ch, auto token) {
                     auto stub = message_history::v1::MessageHistory::NewStub(ch);
                     message_history::v1::QueryRequest r;
                     r.set_agent_id("alice");
                     r.set_limit(1000);
                     while (true) {
                       grpc::ClientContext ctx;
                       testing::Authorize(&ctx, token);
                       message_history::v1::QueryResponse page;
                       grpc::Status s = stub->Query(&ctx, r, &page);
                       if (!s.ok() || page.next_page_token().empty()) return s;
                       r.set_page_token(page.next_page_token());
                     }
                   }});
  return cases;
}

void PrintTo(const StoreCase& c, std::ostream* os) { *os << c.kind; }

class EveryStoreTest : public ::testing::TestWithParam<StoreCase> {};

TEST_P(EveryStoreTest, FlippedBytesInTheMainTableFailTheHotPathAndAreReported) {
  const StoreCase& c = GetParam();
  testing::TempDir dir;
  testing::FakeMaintenance fake;
  config::Topology topology =
      testing::MakeTopology(dir.path(), {{c.kind, c.tables}}, fake.address());
  auto start = [&] {
    auto p = StoreProcess::Start(topology, c.kind, c.definition(), {});
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? *std::move(p) : nullptr;
  };
  auto channel_of = [](const StoreProcess& p) {
    return grpc::CreateChannel(absl::StrCat("127.0.0.1:", p.port()),
                               grpc::InsecureChannelCredentials());
  };
  std::string token;
  {
    auto process = start();
    ASSERT_NE(process, nullptr);
    token = testing::ReadFile(topology.tokens().agent_token_file());
    c.load(channel_of(*process), token);
    ASSERT_TRUE(c.read_all(channel_of(*process), token).ok());
    for (storage::Table* t : process->tables().All()) ASSERT_TRUE(t->Compact().ok());
  }
  testing::FlipBytesInLargestTableFile(topology.data_dir() + "/" + c.corrupted_table);
  auto process = start();
  ASSERT_NE(process, nullptr);
  grpc::Status s = c.read_all(channel_of(*process), token);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("table " + c.corrupted_table + " is corrupted"));
  EXPECT_EQ((*process->tables().Find(c.corrupted_table))->state(),
            common::v1::TABLE_STATE_CORRUPTED);
  ASSERT_TRUE(fake.WaitForReports(1, absl::Seconds(10)));
  EXPECT_EQ(fake.reports()[0].store(), c.kind);
  EXPECT_EQ(fake.reports()[0].table(), c.corrupted_table);
  // Without a token the same call is refused before touching the table.
  EXPECT_EQ(c.read_all(channel_of(*process), "").error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

INSTANTIATE_TEST_SUITE_P(Stores, EveryStoreTest, ::testing::ValuesIn(AllStores()),
                         [](const auto& info) { return info.param.kind; });

}  // namespace
}  // namespace agentcom::store_admin
