// Push delivery through real store processes (in-process, real gRPC, real
// LevelDB): Mailbox.Watch, Channels.Watch and TaskQueue.Assign with wait_ms.
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "agentcom/channels/v1/channels.grpc.pb.h"
#include "agentcom/mailbox/v1/mailbox.grpc.pb.h"
#include "agentcom/store_admin/v1/store_admin.grpc.pb.h"
#include "agentcom/task_queue/v1/task_queue.grpc.pb.h"
#include "common/reflection/generic_call.h"
#include "common/storage/backup.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/channels/channels_service.h"
#include "services/mailbox/mailbox_service.h"
#include "services/store_admin/store_process.h"
#include "services/task_queue/task_queue_service.h"
#include "tests/support/fake_maintenance.h"
#include "tests/support/test_support.h"

namespace agentcom {
namespace {

using ::testing::HasSubstr;
namespace mbx = ::agentcom::mailbox::v1;
namespace chv1 = ::agentcom::channels::v1;
namespace tqv1 = ::agentcom::task_queue::v1;

// One store process of `kind` owning `tables`.
class Store {
 public:
  Store(const std::string& kind, std::vector<std::string> tables,
        const store_admin::StoreDefinition& definition,
        std::function<void(config::Topology*)> adjust = nullptr) {
    topology_ = testing::MakeTopology(dir_.path(), {{kind, std::move(tables)}}, fake_.address());
    if (adjust) adjust(&topology_);
    auto p = store_admin::StoreProcess::Start(topology_, kind, definition, {});
    EXPECT_TRUE(p.ok()) << p.status();
    process_ = *std::move(p);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", process_->port()),
                                   grpc::InsecureChannelCredentials());
    agent_token_ = testing::ReadFile(topology_.tokens().agent_token_file());
    admin_token_ = testing::ReadFile(topology_.tokens().admin_token_file());
  }
  std::shared_ptr<grpc::Channel> channel() const { return channel_; }
  const std::string& agent_token() const { return agent_token_; }
  const std::string& admin_token() const { return admin_token_; }
  const config::Topology& topology() const { return topology_; }
  store_admin::StoreProcess& process() { return *process_; }

 private:
  testing::TempDir dir_;
  testing::FakeMaintenance fake_;
  config::Topology topology_;
  std::unique_ptr<store_admin::StoreProcess> process_;
  std::shared_ptr<grpc::Channel> channel_;
  std::string agent_token_, admin_token_;
};

// Reads a Watch stream on a thread of its own, collecting the seqs.
template <typename Stub, typename Request, typename Response>
class StreamReader {
 public:
  StreamReader(Stub* stub, const std::string& token, const Request& request) {
    if (!token.empty()) testing::Authorize(&context_, token);
    reader_ = stub->Watch(&context_, request);
    thread_ = std::thread([this] {
      Response r;
      while (reader_->Read(&r)) {
        absl::MutexLock l(&mu_);
        for (const auto& m : r.messages()) seqs_.push_back(m.seq());
      }
      grpc::Status s = reader_->Finish();
      absl::MutexLock l(&mu_);
      status_ = s;
      done_ = true;
    });
  }
  ~StreamReader() {
    context_.TryCancel();
    thread_.join();
  }
  // Waits (up to 30 s) until `n` records arrived or the stream ended.
  std::vector<uint64_t> WaitFor(size_t n) {
    struct Arg {
      StreamReader* reader;
      size_t n;
    } arg{this, n};
    absl::MutexLock l(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(
                             +[](Arg* a) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                               return a->reader->done_ || a->reader->seqs_.size() >= a->n;
                             },
                             &arg),
                         absl::Seconds(30));
    return seqs_;
  }
  // Waits (up to 30 s) for the end of the stream and returns its status.
  grpc::Status WaitForEnd() {
    absl::MutexLock l(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&done_), absl::Seconds(30));
    return done_ ? status_ : grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "still open");
  }
  void Cancel() { context_.TryCancel(); }

 private:
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<Response>> reader_;
  std::thread thread_;
  absl::Mutex mu_;
  std::vector<uint64_t> seqs_ ABSL_GUARDED_BY(mu_);
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
};

using MailboxReader = StreamReader<mbx::Mailbox::Stub, mbx::WatchRequest, mbx::WatchResponse>;
using ChannelReader = StreamReader<chv1::Channels::Stub, chv1::WatchRequest, chv1::WatchResponse>;

std::vector<uint64_t> Range(uint64_t first, uint64_t last) {
  std::vector<uint64_t> v;
  for (uint64_t s = first; s <= last; ++s) v.push_back(s);
  return v;
}

class MailboxWatchTest : public ::testing::Test {
 protected:
  explicit MailboxWatchTest(std::function<void(config::Topology*)> adjust = nullptr)
      : store_("mailbox", {"agent_mailbox"}, mailbox::MailboxStoreDefinition(), adjust),
        stub_(mbx::Mailbox::NewStub(store_.channel())) {}

  uint64_t Enqueue(const std::string& agent, const std::string& body) {
    grpc::ClientContext ctx;
    testing::Authorize(&ctx, store_.agent_token());
    mbx::EnqueueRequest r;
    r.set_agent_id(agent);
    r.mutable_message()->set_body(body);
    mbx::EnqueueResponse out;
    grpc::Status s = stub_->Enqueue(&ctx, r, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out.seq();
  }
  std::unique_ptr<MailboxReader> Watch(const std::string& agent, uint64_t after,
                                       const std::string* token = nullptr) {
    mbx::WatchRequest r;
    r.set_agent_id(agent);
    r.set_after_seq(after);
    return std::make_unique<MailboxReader>(stub_.get(), token ? *token : store_.agent_token(), r);
  }

  Store store_;
  std::unique_ptr<mbx::Mailbox::Stub> stub_;
};

TEST_F(MailboxWatchTest, ReplaysWhatIsStoredThenPushesEachNewMessageInOrder) {
  for (int i = 0; i < 250; ++i) Enqueue("alice", "before");  // more than two pages
  Enqueue("bob", "not for alice");
  auto watch = Watch("alice", 0);
  EXPECT_EQ(watch->WaitFor(250), Range(1, 250));

  // Concurrent writers for the same agent: the stream sees every seq once,
  // in order, as they are acknowledged.
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&] {
      for (int i = 0; i < 100; ++i) Enqueue("alice", "live");
    });
  }
  for (auto& t : writers) t.join();
  EXPECT_EQ(watch->WaitFor(650), Range(1, 650));
}

TEST_F(MailboxWatchTest, ResumesAfterTheLastSeqSeenAndSkipsAckedMessages) {
  for (int i = 0; i < 20; ++i) Enqueue("alice", "m");
  {
    grpc::ClientContext ctx;
    testing::Authorize(&ctx, store_.agent_token());
    mbx::AckRequest ack;
    ack.set_agent_id("alice");
    ack.set_up_to_seq(5);
    mbx::AckResponse out;
    ASSERT_TRUE(stub_->Ack(&ctx, ack, &out).ok());
  }
  auto from_start = Watch("alice", 0);
  EXPECT_EQ(from_start->WaitFor(15), Range(6, 20));
  auto resumed = Watch("alice", 12);
  EXPECT_EQ(resumed->WaitFor(8), Range(13, 20));
  Enqueue("alice", "new");
  EXPECT_EQ(resumed->WaitFor(9), Range(13, 21));
  EXPECT_EQ(from_start->WaitFor(16), Range(6, 21));
}

TEST_F(MailboxWatchTest, ChecksTheTokenAndTheAgentId) {
  const std::string none, wrong = "wrong-token-0000000";
  EXPECT_EQ(Watch("alice", 0, &none)->WaitForEnd().error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Watch("alice", 0, &wrong)->WaitForEnd().error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  grpc::Status bad = Watch("alice/../x", 0)->WaitForEnd();
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(bad.error_message(), HasSubstr("agent_id"));
  const std::string admin = store_.admin_token();
  auto as_admin = Watch("alice", 0, &admin);
  Enqueue("alice", "x");
  EXPECT_EQ(as_admin->WaitFor(1), Range(1, 1));
}

// A consumer that reads nothing holds up neither writers nor other streams;
// once it reads, it gets everything, in order.
TEST_F(MailboxWatchTest, ASlowConsumerHoldsUpNobodyAndLosesNothing) {
  auto stalled = Watch("alice", 0);
  stalled->Cancel();  // replaced below by one that is simply never read
  mbx::WatchRequest r;
  r.set_agent_id("alice");
  grpc::ClientContext ctx;
  testing::Authorize(&ctx, store_.agent_token());
  std::unique_ptr<grpc::ClientReader<mbx::WatchResponse>> unread = stub_->Watch(&ctx, r);
  auto reading = Watch("alice", 0);
  const std::string body(16 << 10, 'b');
  for (int i = 0; i < 1500; ++i) Enqueue("alice", body);  // 24 MiB, far beyond any window
  EXPECT_EQ(reading->WaitFor(1500), Range(1, 1500));

  std::vector<uint64_t> seqs;
  mbx::WatchResponse page;
  while (seqs.size() < 1500 && unread->Read(&page)) {
    for (const auto& m : page.messages()) seqs.push_back(m.seq());
  }
  EXPECT_EQ(seqs, Range(1, 1500));
  ctx.TryCancel();
  (void)unread->Finish();
}

TEST_F(MailboxWatchTest, EndsUnavailableWhenTheTableIsRestoredAndResumesAfterIt) {
  for (int i = 0; i < 10; ++i) Enqueue("alice", "m");
  auto watch = Watch("alice", 0);
  ASSERT_EQ(watch->WaitFor(10), Range(1, 10));

  // What maintenance does to restore a table: marker, then Reopen.
  std::ofstream(store_.topology().data_dir() + "/agent_mailbox/" + storage::kRestoringMarkerFile)
      << "x\n";
  auto admin = store_admin::v1::StoreAdmin::NewStub(store_.channel());
  {
    grpc::ClientContext ctx;
    testing::Authorize(&ctx, store_.admin_token());
    store_admin::v1::ReopenRequest r;
    r.set_table("agent_mailbox");
    store_admin::v1::ReopenResponse out;
    ASSERT_TRUE(admin->Reopen(&ctx, r, &out).ok());
  }
  grpc::Status ended = watch->WaitForEnd();
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(ended.error_message(), HasSubstr("being restored"));
  EXPECT_EQ(Watch("alice", 10)->WaitForEnd().error_code(), grpc::StatusCode::UNAVAILABLE);

  {
    grpc::ClientContext ctx;
    testing::Authorize(&ctx, store_.admin_token());
    store_admin::v1::FinishRestoreRequest r;
    r.set_table("agent_mailbox");
    r.set_record_count(11);
    store_admin::v1::FinishRestoreResponse out;
    grpc::Status s = admin->FinishRestore(&ctx, r, &out);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  auto resumed = Watch("alice", 10);
  Enqueue("alice", "after the restore");
  EXPECT_EQ(resumed->WaitFor(1), Range(11, 11));
}

// A restore stops the store: its push streams and waiting calls end at once
// with UNAVAILABLE (clients resume once it is back) instead of holding the
// process, and so the restore, for gRPC's shutdown grace.
TEST_F(MailboxWatchTest, AStoreShuttingDownEndsItsStreamsAtOnce) {
  Enqueue("alice", "m");
  auto watch = Watch("alice", 0);
  ASSERT_EQ(watch->WaitFor(1), Range(1, 1));
  store_.process().Shutdown();
  // Ended by the store, not cancelled by gRPC once the grace ran out.
  grpc::Status ended = watch->WaitForEnd();
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(ended.error_message(), HasSubstr("shutting down"));
}

// examples/python/agent.py, with stubs generated by Debian's protoc and
// grpc_python_plugin and run by Debian's python3-grpcio, against a real
// store: so the README's example cannot rot.
TEST_F(MailboxWatchTest, ThePythonExampleAgentGetsEachMessagePushedAndAcksIt) {
  testing::TempDir gen;
  const std::string source = AGENTCOM_SOURCE_DIR;
  ASSERT_EQ(std::system(absl::StrCat(source, "/examples/python/generate.sh ", gen.path()).c_str()),
            0);
  Enqueue("alice", "first");
  Enqueue("alice", "second");
  const std::string command =
      absl::StrCat("PYTHONPATH=", gen.path(), " timeout 60 /usr/bin/python3 ", source,
                   "/examples/python/agent.py 127.0.0.1:", store_.process().port(), " ",
                   store_.topology().tokens().agent_token_file(), " alice 4 2>&1");
  FILE* agent = popen(command.c_str(), "r");
  ASSERT_NE(agent, nullptr);
  std::string output;
  char line[4096];
  // Once the agent printed what was stored, the next two are pushed to it.
  while (output.find("2 second\n") == std::string::npos && fgets(line, sizeof line, agent)) {
    output += line;
  }
  Enqueue("alice", "third");
  Enqueue("alice", "fourth");
  while (fgets(line, sizeof line, agent)) output += line;
  EXPECT_EQ(pclose(agent), 0) << output;
  EXPECT_EQ(output, "1 first\n2 second\n3 third\n4 fourth\n");

  grpc::ClientContext ctx;
  testing::Authorize(&ctx, store_.agent_token());
  mbx::PollRequest poll;
  poll.set_agent_id("alice");
  mbx::PollResponse left;
  ASSERT_TRUE(stub_->Poll(&ctx, poll, &left).ok());
  EXPECT_EQ(left.messages_size(), 0);  // acked
}

// Bytes that are not the request message are INVALID_ARGUMENT naming it
// (gRPC 1.51 itself would answer UNIMPLEMENTED for a callback method).
TEST_F(MailboxWatchTest, MalformedRequestsAreInvalidArgument) {
  grpc::ClientContext ctx;
  testing::Authorize(&ctx, store_.agent_token());
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  auto call =
      reflection::GenericCall::Start(store_.channel(), "/agentcom.mailbox.v1.Mailbox/Watch", &ctx);
  ASSERT_TRUE(call.ok());
  (void)(*call)->Write(std::string("\x0a\xff\xff\xff\x0f", 5));
  (void)(*call)->WritesDone();
  while ((*call)->Read().has_value()) {
  }
  grpc::Status s = (*call)->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("agentcom.mailbox.v1.WatchRequest"));
}

class LimitedMailboxWatchTest : public MailboxWatchTest {
 protected:
  LimitedMailboxWatchTest()
      : MailboxWatchTest([](config::Topology* t) {
          t->mutable_limits()->set_max_watchers(3);
          t->mutable_limits()->set_max_watchers_per_owner(2);
        }) {}
};

TEST_F(LimitedMailboxWatchTest, WatchersOverTheLimitsAreRefusedUntilOthersEnd) {
  Enqueue("alice", "m");
  auto a1 = Watch("alice", 0);
  auto a2 = Watch("alice", 0);
  ASSERT_EQ(a1->WaitFor(1).size(), 1u);
  ASSERT_EQ(a2->WaitFor(1).size(), 1u);
  grpc::Status third = Watch("alice", 0)->WaitForEnd();
  EXPECT_EQ(third.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(third.error_message(), HasSubstr("max_watchers_per_owner"));

  Enqueue("bob", "m");
  auto b1 = Watch("bob", 0);
  ASSERT_EQ(b1->WaitFor(1).size(), 1u);
  grpc::Status full = Watch("carol", 0)->WaitForEnd();
  EXPECT_EQ(full.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(full.error_message(), HasSubstr("limits.max_watchers"));

  a1.reset();  // cancels; its place is free once the store sees it
  grpc::Status again;
  for (int i = 0; i < 100; ++i) {
    auto a3 = Watch("alice", 0);
    if (a3->WaitFor(1).size() == 1) {
      again = grpc::Status::OK;
      break;
    }
    again = a3->WaitForEnd();
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_TRUE(again.ok()) << again.error_message();

  const std::string metrics = testing::HttpGet(store_.process().metrics_port(), "/metrics");
  EXPECT_THAT(metrics, HasSubstr("agentcom_push_waiting{service=\"mailbox\"}"));
  EXPECT_THAT(
      metrics,
      HasSubstr("agentcom_push_ended_total{reason=\"resource_exhausted\",service=\"mailbox\"}"));
  EXPECT_THAT(metrics, HasSubstr("agentcom_push_records_total{service=\"mailbox\"}"));
}

TEST(ChannelsWatchTest, ReplaysThenPushesEachPublishedMessageInOrder) {
  Store store("channels", {channels::kSubscriptionsTable, channels::kHistoryTable},
              channels::ChannelsStoreDefinition());
  auto stub = chv1::Channels::NewStub(store.channel());
  auto publish = [&](const std::string& channel) {
    grpc::ClientContext ctx;
    testing::Authorize(&ctx, store.agent_token());
    chv1::PublishRequest r;
    r.set_channel(channel);
    r.set_body(std::string(64 << 10, 'p'));
    chv1::PublishResponse out;
    grpc::Status s = stub->Publish(&ctx, r, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
  };
  for (int i = 0; i < 120; ++i) publish("news");  // 7.5 MiB: pages stop at about 3 MiB
  publish("other");
  chv1::WatchRequest r;
  r.set_channel("news");
  r.set_after_seq(100);
  ChannelReader tail(stub.get(), store.agent_token(), r);
  EXPECT_EQ(tail.WaitFor(20), Range(101, 120));
  r.set_after_seq(0);
  ChannelReader all(stub.get(), store.agent_token(), r);
  EXPECT_EQ(all.WaitFor(120), Range(1, 120));
  for (int i = 0; i < 30; ++i) publish("news");
  EXPECT_EQ(all.WaitFor(150), Range(1, 150));
  EXPECT_EQ(tail.WaitFor(50), Range(101, 150));

  r.set_channel("");
  EXPECT_EQ(ChannelReader(stub.get(), store.agent_token(), r).WaitForEnd().error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

class AssignWaitTest : public ::testing::Test {
 protected:
  AssignWaitTest()
      : store_("task_queue", {task_queue::kQueueTable, task_queue::kDeadLetterTable},
               task_queue::TaskQueueStoreDefinition()),
        stub_(tqv1::TaskQueue::NewStub(store_.channel())) {}

  std::string Submit(const std::string& type) {
    grpc::ClientContext ctx;
    testing::Authorize(&ctx, store_.agent_token());
    tqv1::SubmitRequest r;
    r.set_type(type);
    r.set_payload("work");
    tqv1::SubmitResponse out;
    grpc::Status s = stub_->Submit(&ctx, r, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out.id();
  }
  grpc::Status Assign(const std::string& agent, uint32_t wait_ms, tqv1::Task* out,
                      uint32_t lease_seconds = 0) {
    grpc::ClientContext ctx;
    testing::Authorize(&ctx, store_.agent_token());
    tqv1::AssignRequest r;
    r.set_agent_id(agent);
    r.add_types("build");
    r.add_types("test");
    r.set_wait_ms(wait_ms);
    r.set_lease_seconds(lease_seconds);
    return stub_->Assign(&ctx, r, out);
  }

  Store store_;
  std::unique_ptr<tqv1::TaskQueue::Stub> stub_;
};

TEST_F(AssignWaitTest, AWaitingAssignGetsATaskSubmittedWhileItWaits) {
  tqv1::Task task;
  grpc::Status s;
  std::thread waiter([&] { s = Assign("agent-1", 30000, &task); });
  absl::SleepFor(absl::Milliseconds(300));
  const std::string id = Submit("test");
  waiter.join();
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(task.id(), id);
  EXPECT_EQ(task.status(), tqv1::TASK_STATUS_LEASED);
  EXPECT_EQ(task.agent_id(), "agent-1");
}

TEST_F(AssignWaitTest, TwoWaitersNeverGetTheSameTask) {
  tqv1::Task t1, t2;
  grpc::Status s1, s2;
  std::thread w1([&] { s1 = Assign("agent-1", 2000, &t1); });
  std::thread w2([&] { s2 = Assign("agent-2", 2000, &t2); });
  absl::SleepFor(absl::Milliseconds(300));
  const std::string id = Submit("build");
  w1.join();
  w2.join();
  EXPECT_NE(s1.ok(), s2.ok()) << s1.error_message() << " / " << s2.error_message();
  const grpc::Status& lost = s1.ok() ? s2 : s1;
  EXPECT_EQ(lost.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ((s1.ok() ? t1 : t2).id(), id);
}

TEST_F(AssignWaitTest, AWaiterWhoseTimeRunsOutGetsTodaysAnswerAndBadWaitsAreRefused) {
  tqv1::Task task;
  EXPECT_EQ(Assign("agent-1", 0, &task).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Assign("agent-1", 200, &task).error_code(), grpc::StatusCode::NOT_FOUND);
  grpc::Status bad = Assign("agent-1", 60001, &task);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(bad.error_message(), HasSubstr("wait_ms"));
  Submit("build");
  EXPECT_TRUE(Assign("agent-1", 0, &task).ok());
}

// A thousand agents wait at once (no thread each on the store), then a
// thousand tasks are submitted: each task wakes one waiter, and every task
// is leased exactly once.
TEST_F(AssignWaitTest, AThousandWaitingAgentsGetAThousandTasksEachExactlyOnce) {
  constexpr int kAgents = 1000;
  std::vector<std::string> got(kAgents);
  std::vector<grpc::Status> status(kAgents);
  std::vector<std::thread> waiters;
  for (int a = 0; a < kAgents; ++a) {
    waiters.emplace_back([&, a] {
      tqv1::Task t;
      status[a] = Assign(absl::StrCat("agent-", a), 60000, &t);
      got[a] = t.id();
    });
  }
  const std::string all_waiting =
      absl::StrCat("agentcom_push_waiting{service=\"task_queue\"} ", kAgents, "\n");
  for (int i = 0; i < 300; ++i) {
    if (testing::HttpGet(store_.process().metrics_port(), "/metrics").find(all_waiting) !=
        std::string::npos) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_THAT(testing::HttpGet(store_.process().metrics_port(), "/metrics"),
              HasSubstr(all_waiting));
  std::vector<std::thread> submitters;
  std::vector<std::vector<std::string>> submitted(8);
  for (int s = 0; s < 8; ++s) {
    submitters.emplace_back([&, s] {
      for (int i = 0; i < kAgents / 8; ++i) submitted[s].push_back(Submit("build"));
    });
  }
  for (auto& t : submitters) t.join();
  for (auto& t : waiters) t.join();
  std::set<std::string> leased;
  for (int a = 0; a < kAgents; ++a) {
    EXPECT_TRUE(status[a].ok()) << a << ": " << status[a].error_message();
    leased.insert(got[a]);
  }
  std::set<std::string> all;
  for (const auto& s : submitted) all.insert(s.begin(), s.end());
  EXPECT_EQ(leased.size(), static_cast<size_t>(kAgents));
  EXPECT_EQ(leased, all);
}

TEST_F(AssignWaitTest, ATaskWhoseLeaseExpiresGoesToAWaitingAgent) {
  const std::string id = Submit("build");
  tqv1::Task first;
  ASSERT_TRUE(Assign("agent-1", 0, &first, /*lease_seconds=*/1).ok());
  tqv1::Task second;
  grpc::Status s = Assign("agent-2", 30000, &second);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(second.id(), id);
  EXPECT_EQ(second.agent_id(), "agent-2");
  EXPECT_EQ(second.attempts(), 2u);
}

}  // namespace
}  // namespace agentcom
