// The XML-RPC response parser and the supervisord client against a local
// HTTP server that answers as supervisord does (supervisor/xmlrpc.py), on a
// manual clock.
#include "services/maintenance/supervisord_client.h"

#include <thread>

#include "absl/strings/match.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/fake_http_server.h"

namespace agentcom::maintenance {
namespace {

using testing::FakeHttpServer;
using ::testing::HasSubstr;

std::string Response(const std::string& value) {
  return "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n" + value +
         "</param>\n</params>\n</methodResponse>\n";
}

std::string Fault(int code, const std::string& text) {
  return "<?xml version='1.0'?>\n<methodResponse>\n<fault>\n<value><struct>\n"
         "<member>\n<name>faultCode</name>\n<value><int>" +
         std::to_string(code) +
         "</int></value>\n</member>\n<member>\n<name>faultString</name>\n<value><string>" + text +
         "</string></value>\n</member>\n</struct></value>\n</fault>\n</methodResponse>\n";
}

std::string ProcessInfo(const std::string& state) {
  return Response(
      "<value><struct>\n<member>\n<name>name</name>\n<value><string>mailbox</string></value>\n"
      "</member>\n<member>\n<name>pid</name>\n<value><int>4242</int></value>\n</member>\n"
      "<member>\n<name>statename</name>\n<value><string>" +
      state + "</string></value>\n</member>\n</struct></value>\n");
}

TEST(XmlRpcTest, ParsesStructsArraysScalarsAndUntypedStrings) {
  int fault = 0;
  auto v = ParseXmlRpcResponse(ProcessInfo("RUNNING"), &fault);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(fault, 0);
  EXPECT_EQ(v->kind, XmlRpcValue::Kind::kStruct);
  EXPECT_EQ(v->members.at("statename").scalar, "RUNNING");
  EXPECT_EQ(v->members.at("pid").scalar, "4242");

  v = ParseXmlRpcResponse(Response("<value><array><data><value><boolean>1</boolean></value>"
                                   "<value>plain</value></data></array></value>"),
                          &fault);
  ASSERT_TRUE(v.ok()) << v.status();
  ASSERT_EQ(v->kind, XmlRpcValue::Kind::kArray);
  ASSERT_EQ(v->items.size(), 2u);
  EXPECT_EQ(v->items[0].scalar, "1");
  EXPECT_EQ(v->items[1].scalar, "plain");
}

TEST(XmlRpcTest, AFaultIsAnErrorWithItsCode) {
  int fault = 0;
  auto v = ParseXmlRpcResponse(Fault(70, "NOT_RUNNING: mailbox"), &fault);
  EXPECT_EQ(v.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(fault, 70);
  EXPECT_THAT(v.status().message(), HasSubstr("NOT_RUNNING: mailbox (code 70)"));
}

TEST(XmlRpcTest, MalformedResponsesAreDataLoss) {
  int fault = 0;
  for (const std::string& bad :
       {std::string("not xml <"), std::string("<?xml version='1.0'?><other/>"), Response(""),
        std::string("<methodResponse><fault></fault></methodResponse>"),
        Response("<value><struct><member><name>x</name></member></struct></value>")}) {
    SCOPED_TRACE(bad);
    EXPECT_EQ(ParseXmlRpcResponse(bad, &fault).status().code(), absl::StatusCode::kDataLoss);
  }
}

TEST(XmlRpcTest, CallsEscapeTheirParameters) {
  const std::string xml = BuildXmlRpcCall("supervisor.startProcess", {"a<b&c>"}, {false});
  EXPECT_THAT(xml, HasSubstr("<methodName>supervisor.startProcess</methodName>"));
  EXPECT_THAT(xml, HasSubstr("<string>a&lt;b&amp;c&gt;</string>"));
  EXPECT_THAT(xml, HasSubstr("<boolean>0</boolean>"));
}

// supervisord in miniature: one program whose state the handler tracks.
class FakeSupervisord {
 public:
  FakeSupervisord() : server_([this](const FakeHttpServer::Request& r) { return Handle(r); }) {}
  std::string address() const { return server_.address(); }
  std::vector<FakeHttpServer::Request> requests() { return server_.requests(); }

  absl::Mutex mu;
  std::string state ABSL_GUARDED_BY(mu) = "RUNNING";
  // getProcessInfo calls that still answer STOPPING after a stop.
  int stopping_polls ABSL_GUARDED_BY(mu) = 0;
  bool spawn_error ABSL_GUARDED_BY(mu) = false;

 private:
  FakeHttpServer::Reply Handle(const FakeHttpServer::Request& r) {
    if (r.authorization != "Basic YWdlbnRjb206c2VjcmV0") return {401, "unauthorized"};
    absl::MutexLock l(&mu);
    if (absl::StrContains(r.body, "<string>ghost</string>"))
      return {200, Fault(10, "BAD_NAME: ghost")};
    if (absl::StrContains(r.body, "supervisor.stopProcess")) {
      if (state != "RUNNING") return {200, Fault(70, "NOT_RUNNING: mailbox")};
      state = stopping_polls > 0 ? "STOPPING" : "STOPPED";
      return {200, Response("<value><boolean>1</boolean></value>")};
    }
    if (absl::StrContains(r.body, "supervisor.startProcess")) {
      if (spawn_error) {
        state = "FATAL";
        return {200, Fault(50, "SPAWN_ERROR: mailbox")};
      }
      if (state == "RUNNING") return {200, Fault(60, "ALREADY_STARTED: mailbox")};
      state = "RUNNING";
      return {200, Response("<value><boolean>1</boolean></value>")};
    }
    if (state == "STOPPING" && --stopping_polls == 0) state = "STOPPED";
    return {200, ProcessInfo(state)};
  }
  FakeHttpServer server_;
};

TEST(SupervisordClientTest, StopsStartsAndReadsStates) {
  FakeSupervisord fake;
  SupervisordClient client(fake.address(), "agentcom", "secret");
  EXPECT_EQ(*client.GetState("mailbox"), ProcessState::kRunning);
  ASSERT_TRUE(client.Stop("mailbox").ok());
  EXPECT_EQ(*client.GetState("mailbox"), ProcessState::kStopped);
  EXPECT_TRUE(client.Stop("mailbox").ok());  // not running: OK
  ASSERT_TRUE(client.Start("mailbox").ok());
  EXPECT_TRUE(client.Start("mailbox").ok());  // already started: OK
  EXPECT_EQ(*client.GetState("mailbox"), ProcessState::kRunning);
  EXPECT_THAT(fake.requests()[0].body, HasSubstr("supervisor.getProcessInfo"));
  EXPECT_EQ(fake.requests()[0].content_type, "text/xml");
}

TEST(SupervisordClientTest, ErrorsNameWhatWentWrong) {
  FakeSupervisord fake;
  SupervisordClient client(fake.address(), "agentcom", "secret");
  EXPECT_EQ(client.Stop("ghost").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(client.Start("ghost").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(client.GetState("ghost").status().code(), absl::StatusCode::kNotFound);

  SupervisordClient wrong(fake.address(), "agentcom", "wrong");
  EXPECT_EQ(wrong.GetState("mailbox").status().code(), absl::StatusCode::kPermissionDenied);

  ASSERT_TRUE(client.Stop("mailbox").ok());
  {
    absl::MutexLock l(&fake.mu);
    fake.spawn_error = true;
  }
  absl::Status s = client.Start("mailbox");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("state FATAL"));

  SupervisordClient unreachable("127.0.0.1:1", "agentcom", "secret");
  EXPECT_EQ(unreachable.GetState("mailbox").status().code(), absl::StatusCode::kUnavailable);
}

// Stop polls until the process has exited, on the injected clock: a process
// stuck in STOPPING fails the call after 60 s of that clock, not of real time.
TEST(SupervisordClientTest, StopGivesUpOnAProcessThatNeverExitsAtItsDeadline) {
  FakeSupervisord fake;
  {
    absl::MutexLock l(&fake.mu);
    fake.stopping_polls = 1 << 30;
  }
  ManualClock clock;
  SupervisordClient client(fake.address(), "agentcom", "secret", &clock);
  absl::Notification done;
  absl::Status result;
  std::thread stop([&] {
    result = client.Stop("mailbox");
    done.Notify();
  });
  const absl::Time start = clock.Now();
  uint64_t blocks = 0;
  while (!done.HasBeenNotified()) {
    if (clock.blocks() == blocks) {
      absl::SleepFor(absl::Milliseconds(1));
      continue;
    }
    blocks = clock.blocks();
    clock.Advance(absl::Seconds(5));
  }
  stop.join();
  EXPECT_EQ(result.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(result.message(), HasSubstr("still STOPPING"));
  EXPECT_GE(clock.Now() - start, absl::Seconds(60));
  EXPECT_LE(clock.Now() - start, absl::Seconds(65));
}

}  // namespace
}  // namespace agentcom::maintenance
