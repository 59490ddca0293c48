// The gateway (issue 5) against the real maintenance service (MaintenanceCore
// over fake processes that own real tables), over real sockets: every route,
// the HTTP error mapping, limits, static files, and the WebSocket fan-out
// including a slow client and a maintenance restart mid-stream.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <boost/beast/websocket.hpp>
#include <condition_variable>
#include <deque>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/auth/authorizer.h"
#include "common/server/grpc_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/gateway/api_router.h"
#include "services/gateway/gateway_server.h"
#include "services/maintenance/maintenance_process.h"
#include "tests/support/fake_processes.h"
#include "tests/support/test_support.h"

namespace agentcom::gateway {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using ::testing::HasSubstr;

struct Reply {
  int status = 0;
  std::string body;
  std::string content_type;
};

Reply Http(int port, http::verb method, const std::string& target, const std::string& token,
           const std::string& body = "") {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)));
  http::request<http::string_body> req(method, target, 11);
  req.set(http::field::host, "127.0.0.1");
  if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
  req.body() = body;
  req.prepare_payload();
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  beast::error_code ec;
  http::read(stream, buffer, res, ec);
  Reply r{static_cast<int>(res.result_int()), res.body(),
          std::string(res[http::field::content_type])};
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  return r;
}

// A WebSocket client whose messages are read by a thread into a queue.
class WsClient {
 public:
  WsClient(int port, const std::string& token, uint64_t after = 0) : ws_(ioc_) {
    ws_.next_layer().connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)));
    ws_.handshake("127.0.0.1", "/ws");
    ws_.write(asio::buffer(absl::StrCat("{\"token\":\"", token, "\",\"after_id\":", after, "}")));
    reader_ = std::thread([this] {
      while (true) {
        {
          std::unique_lock<std::mutex> l(mu_);
          cv_.wait(l, [this] { return !paused_ || closed_; });
          if (closed_) return;
        }
        beast::flat_buffer buffer;
        beast::error_code ec;
        ws_.read(buffer, ec);
        std::lock_guard<std::mutex> l(mu_);
        if (ec) {
          closed_ = true;
          cv_.notify_all();
          return;
        }
        messages_.push_back(beast::buffers_to_string(buffer.data()));
        cv_.notify_all();
      }
    });
  }
  ~WsClient() {
    {
      std::lock_guard<std::mutex> l(mu_);
      closed_ = true;
      paused_ = false;
    }
    cv_.notify_all();
    beast::error_code ec;
    ws_.next_layer().shutdown(tcp::socket::shutdown_both, ec);
    ws_.next_layer().close(ec);
    reader_.join();
  }
  // The next message, or "" after `timeout`.
  std::string Next(absl::Duration timeout = absl::Seconds(5)) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait_for(l, absl::ToChronoMilliseconds(timeout),
                 [this] { return !messages_.empty() || closed_; });
    if (messages_.empty()) return "";
    std::string m = messages_.front();
    messages_.pop_front();
    return m;
  }
  // The next event (skipping control messages), parsed.
  std::optional<maintenance::v1::Event> NextEvent(absl::Duration timeout = absl::Seconds(5)) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      std::string m = Next(deadline - absl::Now());
      if (m.empty()) return std::nullopt;
      if (m.find("\"type\":\"ready\"") != std::string::npos) continue;
      maintenance::v1::Event e;
      if (google::protobuf::util::JsonStringToMessage(m, &e).ok()) return e;
    }
    return std::nullopt;
  }
  void StopReading() {
    std::lock_guard<std::mutex> l(mu_);
    paused_ = true;
  }

 private:
  asio::io_context ioc_;
  websocket::stream<tcp::socket> ws_;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> messages_;
  bool paused_ = false;
  bool closed_ = false;
};

class GatewayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    topology_ = testing::MakeTopology(
        dir_.path(), {{"mailbox", {"agent_mailbox"}}, {"config", {"agentcom_config"}}});
    processes_ = std::make_unique<testing::FakeProcesses>(topology_);
    authorizer_ = *auth::Authorizer::FromFiles(topology_.tokens().agent_token_file(),
                                               topology_.tokens().admin_token_file());
    admin_ = testing::ReadFile(topology_.tokens().admin_token_file());
    agent_ = testing::ReadFile(topology_.tokens().agent_token_file());
    maintenance_port_ = testing::FreePort();
    topology_.mutable_maintenance()->set_address(absl::StrCat("127.0.0.1:", maintenance_port_));
    topology_.mutable_maintenance()->set_metrics_address("127.0.0.1:0");
    StartMaintenance();
    GatewayServer::Options o;
    o.address = "127.0.0.1:0";
    o.static_dir = std::string(AGENTCOM_SOURCE_DIR) + "/services/gateway/static";
    o.max_body_bytes = 4096;
    o.maintenance = grpc::CreateChannel(absl::StrCat("127.0.0.1:", maintenance_port_),
                                        grpc::InsecureChannelCredentials());
    o.watch_token = admin_;
    o.idle_timeout = absl::Seconds(2);
    auto g = GatewayServer::Start(o);
    ASSERT_TRUE(g.ok()) << g.status();
    gateway_ = *std::move(g);
  }
  void TearDown() override {
    gateway_.reset();
    StopMaintenance();
  }
  void StartMaintenance() {
    auto p = maintenance::MaintenanceProcess::Create({.topology = topology_,
                                                      .supervisor = processes_.get(),
                                                      .stores = processes_.get(),
                                                      .schedule = false});
    ASSERT_TRUE(p.ok()) << p.status();
    maintenance_ = *std::move(p);
  }
  void StopMaintenance() { maintenance_.reset(); }
  Reply Get(const std::string& target, const std::string& token) {
    return Http(gateway_->port(), http::verb::get, target, token);
  }
  Reply Post(const std::string& target, const std::string& token, const std::string& body = "") {
    return Http(gateway_->port(), http::verb::post, target, token, body);
  }

  testing::TempDir dir_;
  config::Topology topology_;
  std::unique_ptr<testing::FakeProcesses> processes_;
  std::unique_ptr<auth::Authorizer> authorizer_;
  std::string admin_, agent_;
  int maintenance_port_ = 0;
  std::unique_ptr<maintenance::MaintenanceProcess> maintenance_;
  std::unique_ptr<GatewayServer> gateway_;
};

TEST_F(GatewayTest, EveryRouteTranslatesToMaintenance) {
  Reply health = Get("/api/admin/health", admin_);
  ASSERT_EQ(health.status, 200) << health.body;
  EXPECT_EQ(health.content_type, "application/json");
  EXPECT_THAT(health.body, HasSubstr("\"table\":\"agent_mailbox\""));
  EXPECT_THAT(health.body, HasSubstr("\"compaction_threshold\":0.1"));

  Reply backup = Post("/api/admin/backup/agent_mailbox", admin_);
  ASSERT_EQ(backup.status, 200) << backup.body;
  google::protobuf::Struct parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(backup.body, &parsed).ok());
  const std::string id = parsed.fields()
                             .at("results")
                             .list_value()
                             .values(0)
                             .struct_value()
                             .fields()
                             .at("backup_id")
                             .string_value();
  EXPECT_FALSE(id.empty());
  EXPECT_EQ(Post("/api/admin/backup", admin_).status, 200);
  Reply list = Get("/api/admin/backups/agent_mailbox", admin_);
  EXPECT_THAT(list.body, HasSubstr(id));
  EXPECT_EQ(Get("/api/admin/backups", admin_).status, 200);

  Reply all = Post("/api/admin/compact", admin_, R"({"force": true})");
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_THAT(all.body, HasSubstr("\"tables_total\":2"));
  EXPECT_EQ(Post("/api/admin/compact/agent_mailbox", admin_).status, 200);
  Reply history = Get("/api/admin/compaction-history", admin_);
  EXPECT_THAT(history.body, HasSubstr("COMPACTION_OUTCOME_COMPACTED"));

  Reply restore = Post("/api/admin/restore/agent_mailbox", admin_,
                       absl::StrCat("{\"backup_id\":\"", id, "\"}"));
  ASSERT_EQ(restore.status, 200) << restore.body;
  EXPECT_THAT(restore.body, HasSubstr("RESTORE_OUTCOME_RESTORED"));

  Reply events = Get("/api/admin/events?after=0", admin_);
  EXPECT_THAT(events.body, HasSubstr("recovery_complete"));
  Reply later = Get("/api/admin/events?after=1000000", admin_);
  EXPECT_EQ(later.body, "{\"events\":[]}");
  Reply healthz = Get("/healthz", "");
  EXPECT_EQ(healthz.status, 200);
}

TEST_F(GatewayTest, ErrorsMapToHttpStatusesAsJson) {
  Reply none = Get("/api/admin/health", "");
  EXPECT_EQ(none.status, 401);
  EXPECT_THAT(none.body, HasSubstr("\"code\":\"UNAUTHENTICATED\""));
  EXPECT_EQ(Get("/api/admin/health", "not-a-token-at-all").status, 401);
  // Found by the fuzzer: a non-ASCII byte in the header used to abort the
  // gateway inside gRPC.
  EXPECT_EQ(Get("/api/admin/health", "ab\xe3").status, 401);
  EXPECT_EQ(Get("/api/admin/health", admin_).status, 200);
  Reply agent = Post("/api/admin/compact", agent_);
  EXPECT_EQ(agent.status, 403);
  EXPECT_THAT(agent.body, HasSubstr("PERMISSION_DENIED"));
  Reply unknown = Post("/api/admin/restore/no_such_table", admin_);
  EXPECT_EQ(unknown.status, 404);
  EXPECT_THAT(unknown.body, HasSubstr("no_such_table"));
  Reply traversal = Post("/api/admin/compact/..%2F..%2Fetc", admin_);
  EXPECT_EQ(traversal.status, 404);
  Reply malformed = Post("/api/admin/compact", admin_, "{not json");
  EXPECT_EQ(malformed.status, 400);
  EXPECT_THAT(malformed.body, HasSubstr("INVALID_ARGUMENT"));
  EXPECT_EQ(Post("/api/admin/compact", admin_, R"({"force": "maybe"})").status, 400);
  EXPECT_EQ(Get("/api/admin/events?after=abc", admin_).status, 400);
  EXPECT_EQ(Post("/api/admin/restore/agent_mailbox", admin_, R"({"backup_id":"../../x"})").status,
            400);
  EXPECT_EQ(Get("/api/admin/nothing", admin_).status, 404);
  EXPECT_EQ(Get("/api/admin/compact", admin_).status, 405);
  Reply big = Post("/api/admin/compact", admin_, std::string(5000, ' '));
  EXPECT_EQ(big.status, 413);
  EXPECT_EQ(HttpStatusFor(grpc::StatusCode::UNAVAILABLE), 503);
}

TEST_F(GatewayTest, ServesTheDashboardFromMemory) {
  Reply index = Get("/", "");
  EXPECT_EQ(index.status, 200);
  EXPECT_THAT(index.content_type, HasSubstr("text/html"));
  EXPECT_THAT(index.body, HasSubstr("agentcom"));
  EXPECT_THAT(Get("/app.js", "").content_type, HasSubstr("javascript"));
  EXPECT_EQ(Get("/../../etc/passwd", "").status, 404);
  EXPECT_EQ(Get("/nope.html", "").status, 404);
}

TEST_F(GatewayTest, WebSocketClientsGetEveryEventInOrder) {
  WsClient a(gateway_->port(), admin_, 1000000);
  WsClient b(gateway_->port(), admin_, 1000000);
  EXPECT_THAT(a.Next(), HasSubstr("ready"));
  EXPECT_THAT(b.Next(), HasSubstr("ready"));
  ASSERT_EQ(Post("/api/admin/backup/agent_mailbox", admin_).status, 200);
  ASSERT_EQ(Post("/api/admin/compact/agent_mailbox", admin_).status, 200);
  for (WsClient* c : {&a, &b}) {
    auto first = c->NextEvent();
    auto second = c->NextEvent();
    ASSERT_TRUE(first && second);
    EXPECT_EQ(first->type(), "backup_complete");
    EXPECT_EQ(second->type(), "compaction_complete");
    EXPECT_EQ(second->id(), first->id() + 1);
  }

  // A client that stops reading does not hold up the other.
  a.StopReading();
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(Post("/api/admin/compact/agentcom_config", admin_).status, 200);
    auto e = b.NextEvent(absl::Seconds(1));
    ASSERT_TRUE(e.has_value()) << "event " << i << " did not reach the reading client within 1 s";
    EXPECT_EQ(e->type(), "compaction_complete");
  }
}

// Issue 8: every route of the route table, without a token, with a wrong
// one, and with an agent token (every route is an admin operation).
TEST_F(GatewayTest, EveryRouteRefusesMissingWrongAndAgentTokens) {
  ApiRouter router(nullptr);
  const std::vector<std::string> routes = router.RouteList();
  ASSERT_GE(routes.size(), 9u);
  for (const std::string& route : routes) {
    std::vector<std::string> parts = absl::StrSplit(route, ' ');
    ASSERT_EQ(parts.size(), 2u) << route;
    const http::verb verb = parts[0] == "GET" ? http::verb::get : http::verb::post;
    const std::string target = absl::StrReplaceAll(parts[1], {{"{table}", "agent_mailbox"}});
    for (const auto& [token, status] : std::vector<std::pair<std::string, int>>{
             {"", 401}, {"wrong-token-0123456789", 401}, {agent_, 403}}) {
      Reply r = Http(gateway_->port(), verb, target, token);
      EXPECT_EQ(r.status, status) << route << " with token '" << token << "': " << r.body;
    }
  }
  EXPECT_TRUE(maintenance_->events().After(0, 1000).empty());  // nothing ran
}

// Issue 8: a request with huge headers is refused and the gateway serves on.
TEST_F(GatewayTest, HugeHeadersAreRefusedAndTheGatewayServesOn) {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.connect(
      tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(gateway_->port())));
  const std::string raw = absl::StrCat("GET /api/admin/health HTTP/1.1\r\nHost: 127.0.0.1\r\n",
                                       "X-Padding: ", std::string(256 << 10, 'p'), "\r\n\r\n");
  beast::error_code ec;
  asio::write(stream.socket(), asio::buffer(raw), ec);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res, ec);
  if (!ec) {
    EXPECT_GE(res.result_int(), 400u);  // 431 or 400
  }                                     // else: the connection was closed, also a refusal
  EXPECT_EQ(Get("/api/admin/health", admin_).status, 200);
}

// Issue 8: a WebSocket that never sends its token is closed after the idle
// timeout instead of holding a connection for ever.
TEST_F(GatewayTest, AWebSocketThatNeverAuthenticatesIsClosed) {
  asio::io_context ioc;
  websocket::stream<tcp::socket> ws(ioc);
  ws.next_layer().connect(
      tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(gateway_->port())));
  ws.handshake("127.0.0.1", "/ws");
  const absl::Time start = absl::Now();
  beast::flat_buffer buffer;
  beast::error_code ec;
  ws.read(buffer, ec);  // blocks until the gateway closes the connection
  EXPECT_TRUE(ec) << "got a message without authenticating";
  EXPECT_LT(absl::Now() - start, absl::Seconds(20));
  EXPECT_EQ(Get("/api/admin/health", admin_).status, 200);
}

TEST_F(GatewayTest, WebSocketRefusesABadToken) {
  WsClient bad(gateway_->port(), agent_);
  EXPECT_THAT(bad.Next(), HasSubstr("\"status\":403"));
}

TEST_F(GatewayTest, TheStreamResumesWithoutLossOrDuplicatesWhenMaintenanceRestarts) {
  WsClient c(gateway_->port(), admin_);
  EXPECT_THAT(c.Next(), HasSubstr("ready"));
  ASSERT_EQ(Post("/api/admin/compact/agent_mailbox", admin_).status, 200);
  auto before = c.NextEvent();
  ASSERT_TRUE(before.has_value());

  StopMaintenance();
  StartMaintenance();
  // Produced before the gateway has reconnected, and after.
  ASSERT_TRUE(maintenance_->core().CompactTable("agentcom_config").ok());
  absl::SleepFor(absl::Seconds(3));
  ASSERT_EQ(Post("/api/admin/compact/agent_mailbox", admin_).status, 200);

  std::vector<uint64_t> ids = {before->id()};
  while (auto e = c.NextEvent(absl::Seconds(5))) {
    ids.push_back(e->id());
    if (ids.size() == 3) break;
  }
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(ids[1], ids[0] + 1);
  EXPECT_EQ(ids[2], ids[1] + 1);
  EXPECT_FALSE(c.NextEvent(absl::Milliseconds(500)).has_value());  // no duplicates
}

}  // namespace
}  // namespace agentcom::gateway
