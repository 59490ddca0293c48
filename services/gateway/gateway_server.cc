#include "services/gateway/gateway_server.h"

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <boost/beast/websocket.hpp>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>

#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/logging/log.h"
#include "services/gateway/api_router.h"
#include "services/gateway/event_hub.h"

namespace agentcom::gateway {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
namespace mnt = ::agentcom::maintenance::v1;

constexpr size_t kHeaderLimit = 8 * 1024;
constexpr size_t kMaxQueuedEvents = 256;

struct StaticFile {
  std::string content_type;
  std::string body;
};

std::string ContentType(const std::string& name) {
  if (absl::EndsWith(name, ".html")) return "text/html; charset=utf-8";
  if (absl::EndsWith(name, ".js")) return "text/javascript; charset=utf-8";
  if (absl::EndsWith(name, ".css")) return "text/css; charset=utf-8";
  if (absl::EndsWith(name, ".svg")) return "image/svg+xml";
  if (absl::EndsWith(name, ".png")) return "image/png";
  return "application/octet-stream";
}

}  // namespace

struct GatewayServer::Impl {
  Options options;
  asio::thread_pool workers{4};
  std::vector<std::thread> io_threads;
  std::shared_ptr<mnt::Maintenance::Stub> stub;
  std::unique_ptr<ApiRouter> router;
  std::unique_ptr<EventHub> hub;
  std::map<std::string, StaticFile> files;  // "/index.html" -> file
  int port = 0;
  bool stopped = false;
  prometheus::Family<prometheus::Counter>* requests = nullptr;
  prometheus::Gauge* ws_clients = nullptr;
  // Declared last so they are destroyed first: the sessions still queued in
  // the io_context go while everything they point to is alive.
  asio::io_context io{2};
  tcp::acceptor acceptor{io};

  void Accept();
};

namespace {

// One WebSocket client: authenticate, then forward hub events from a bounded
// queue. All socket work happens on the connection's strand (the socket was
// accepted on one, so every completion handler runs there).
class WsSession : public std::enable_shared_from_this<WsSession> {
 public:
  WsSession(tcp::socket socket, GatewayServer::Impl* gw)
      : ws_(std::move(socket)), gw_(gw) {
    if (gw_->ws_clients) gw_->ws_clients->Increment();
  }
  // Not unsubscribed here: this may run inside the hub's fan-out (when the
  // hub held the last reference), and the hub drops sinks whose session is
  // gone by itself.
  ~WsSession() {
    if (gw_->ws_clients) gw_->ws_clients->Decrement();
  }

  void Run(http::request<http::string_body> upgrade) {
    auto it = upgrade.find(http::field::authorization);
    if (it != upgrade.end()) header_token_ = std::string(it->value());
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    // A client that never sends its token would otherwise hold a
    // connection for ever: it gets idle_timeout to authenticate.
    auth_timer_.expires_after(absl::ToChronoMilliseconds(gw_->options.idle_timeout));
    auth_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || self->first_message_seen_) return;
      beast::error_code ignored;
      beast::get_lowest_layer(self->ws_).socket().close(ignored);
    });
    ws_.async_accept(upgrade, ([self = shared_from_this()](beast::error_code ec) {
          if (!ec) self->ReadFirst();
        }));
  }

 private:
  void ReadFirst() {
    if (!header_token_.empty()) {
      first_message_seen_ = true;
      auth_timer_.cancel();
      Authenticate(header_token_, 0);
      return;
    }
    ws_.async_read(buffer_, ([self = shared_from_this()](beast::error_code ec, size_t) {
          if (ec) return;
          self->first_message_seen_ = true;
          self->auth_timer_.cancel();
          std::string text = beast::buffers_to_string(self->buffer_.data());
          self->buffer_.consume(self->buffer_.size());
          google::protobuf::Struct msg;
          std::string token;
          uint64_t after = 0;
          if (google::protobuf::util::JsonStringToMessage(text, &msg).ok()) {
            auto f = msg.fields().find("token");
            if (f != msg.fields().end()) token = "Bearer " + f->second.string_value();
            auto a = msg.fields().find("after_id");
            if (a != msg.fields().end()) {
              after = a->second.has_number_value()
                          ? static_cast<uint64_t>(a->second.number_value())
                          : 0;
              if (a->second.has_string_value()) {
                (void)absl::SimpleAtoi(a->second.string_value(), &after);
              }
            }
          }
          self->Authenticate(token, after);
        }));
  }

  // Maintenance decides whether the token is an admin token: a cheap
  // authenticated call with it.
  void Authenticate(const std::string& authorization, uint64_t after) {
    asio::post(gw_->workers, [self = shared_from_this(), authorization, after] {
      HttpResponse r = self->gw_->router->Handle("GET", "/api/admin/events?after=0&limit=1",
                                                 authorization, "");
      asio::post(self->ws_.get_executor(), [self, r, after] {
        if (r.status != 200) {
          self->Send(absl::StrCat("{\"type\":\"error\",\"status\":", r.status, ",\"detail\":", r.body, "}"));
          self->closing_ = true;
          return;
        }
        self->Send("{\"type\":\"ready\"}");
        std::weak_ptr<WsSession> weak = self;
        self->gw_->hub->Subscribe(after, [weak](uint64_t, const std::string& json) {
          auto s = weak.lock();
          if (!s) return false;
          return s->Enqueue(json);
        });
        self->ReadLoop();
      });
    });
  }

  // From the hub's thread: never blocks. A client with kMaxQueuedEvents
  // events not yet written is dropped, so it can never hold up the others.
  bool Enqueue(const std::string& json) {
    bool overflow;
    {
      absl::MutexLock l(&queue_mu_);
      if (overflowed_) return false;
      overflow = pending_ >= kMaxQueuedEvents;
      if (overflow) {
        overflowed_ = true;
      } else {
        ++pending_;
      }
    }
    asio::post(ws_.get_executor(), [self = shared_from_this(), json, overflow] {
      if (overflow) {
        self->Drop();
      } else {
        self->Send(json);
      }
    });
    return !overflow;
  }

  void Drop() {
    if (dropped_) return;
    dropped_ = true;
    log::Warn("dropping a WebSocket client that does not keep up");
    beast::get_lowest_layer(ws_).socket().close();
  }

  void Send(std::string text) {
    outbox_.push_back(std::move(text));
    if (outbox_.size() == 1) WriteNext();
  }

  void WriteNext() {
    ws_.text(true);
    ws_.async_write(asio::buffer(outbox_.front()), ([self = shared_from_this()](beast::error_code ec, size_t) {
          self->outbox_.pop_front();
          {
            absl::MutexLock l(&self->queue_mu_);
            if (self->pending_ > 0) --self->pending_;
          }
          if (ec) return;
          if (!self->outbox_.empty()) {
            self->WriteNext();
          } else if (self->closing_) {
            self->ws_.async_close(websocket::close_code::policy_error,
                                  [self](beast::error_code) {});
          }
        }));
  }

  // Keeps reading so pings and close frames are handled; browser messages
  // after authentication are ignored.
  void ReadLoop() {
    ws_.async_read(buffer_, ([self = shared_from_this()](beast::error_code ec, size_t) {
          if (ec) return;
          self->buffer_.consume(self->buffer_.size());
          self->ReadLoop();
        }));
  }

  websocket::stream<beast::tcp_stream> ws_;
  GatewayServer::Impl* gw_;
  beast::flat_buffer buffer_;
  std::string header_token_;
  asio::steady_timer auth_timer_{ws_.get_executor()};
  bool first_message_seen_ = false;
  std::deque<std::string> outbox_;
  bool closing_ = false;
  bool dropped_ = false;
  absl::Mutex queue_mu_;
  size_t pending_ ABSL_GUARDED_BY(queue_mu_) = 0;
  bool overflowed_ ABSL_GUARDED_BY(queue_mu_) = false;
};

// One HTTP connection (keep-alive), handing /ws upgrades to WsSession.
class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket socket, GatewayServer::Impl* gw)
      : stream_(std::move(socket)), gw_(gw) {}

  void Read() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(gw_->options.max_body_bytes);
    stream_.expires_after(absl::ToChronoMilliseconds(gw_->options.idle_timeout));
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       self->OnRead(ec);
                     });
  }

 private:
  void OnRead(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout) {
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
      return;
    }
    if (ec == http::error::body_limit) {
      return Reply(JsonError(413, "PAYLOAD_TOO_LARGE",
                             absl::StrCat("request bodies are limited to ",
                                          gw_->options.max_body_bytes, " bytes")),
                   false);
    }
    if (ec == http::error::header_limit) {
      return Reply(JsonError(431, "HEADERS_TOO_LARGE", "request headers are limited to 8 KiB"),
                   false);
    }
    if (ec) return;
    http::request<http::string_body> req = parser_->release();
    const std::string target(req.target());
    if (websocket::is_upgrade(req)) {
      if (target != "/ws") return Reply(JsonError(404, "NOT_FOUND", "WebSocket is at /ws"), false);
      stream_.expires_never();
      std::make_shared<WsSession>(stream_.release_socket(), gw_)->Run(std::move(req));
      return;
    }
    keep_alive_ = req.keep_alive();
    if (absl::StartsWith(target, "/api/")) {
      std::string auth;
      if (auto it = req.find(http::field::authorization); it != req.end()) auth = std::string(it->value());
      std::string method(req.method_string());
      // RPCs may take long (a restore): they run on the worker pool, never
      // on the I/O threads.
      asio::post(gw_->workers, [self = shared_from_this(), method, target, auth,
                                body = std::move(req.body())] {
        HttpResponse r = self->gw_->router->Handle(method, target, auth, body);
        log::Info("http", {{"method", method},
                           {"path", target.substr(0, target.find('?'))},
                           {"status", r.status}});
        asio::post(self->stream_.get_executor(),
                   [self, r] { self->Reply(r, self->keep_alive_); });
      });
      return;
    }
    if (target == "/healthz") {
      HttpResponse r;
      r.body = absl::StrCat("{\"status\":\"ok\",\"maintenance_stream\":",
                            gw_->hub->connected() ? "true" : "false", "}");
      return Reply(r, keep_alive_);
    }
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      return Reply(JsonError(405, "METHOD_NOT_ALLOWED", "static files are GET only"), keep_alive_);
    }
    std::string path = target.substr(0, target.find('?'));
    if (path == "/") path = "/index.html";
    auto it = gw_->files.find(path);
    if (it == gw_->files.end()) return Reply(JsonError(404, "NOT_FOUND", "no such file"), keep_alive_);
    auto res = std::make_shared<http::response<http::string_body>>(http::status::ok, 11);
    res->set(http::field::content_type, it->second.content_type);
    res->set(http::field::cache_control, "no-cache");
    res->set("X-Content-Type-Options", "nosniff");
    res->body() = it->second.body;
    res->keep_alive(keep_alive_);
    res->prepare_payload();
    Write(res);
  }

  void Reply(const HttpResponse& r, bool keep_alive) {
    if (gw_->requests) gw_->requests->Add({{"code", std::to_string(r.status)}}).Increment();
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(r.status), 11);
    res->set(http::field::content_type, "application/json");
    res->set(http::field::cache_control, "no-store");
    res->body() = r.body;
    res->keep_alive(keep_alive);
    res->prepare_payload();
    Write(res);
  }

  void Write(std::shared_ptr<http::response<http::string_body>> res) {
    stream_.expires_after(absl::ToChronoMilliseconds(gw_->options.idle_timeout));
    http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code ec, size_t) {
      if (ec) return;
      if (!res->keep_alive()) {
        self->stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
        return;
      }
      self->Read();
    });
  }

  beast::tcp_stream stream_;
  GatewayServer::Impl* gw_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool keep_alive_ = true;
};

}  // namespace

void GatewayServer::Impl::Accept() {
  acceptor.async_accept(asio::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
    if (ec) return;  // shutting down
    std::make_shared<HttpSession>(std::move(socket), this)->Read();
    Accept();
  });
}

GatewayServer::GatewayServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

GatewayServer::~GatewayServer() { Shutdown(); }

int GatewayServer::port() const { return impl_->port; }

absl::StatusOr<std::unique_ptr<GatewayServer>> GatewayServer::Start(const Options& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->stub = mnt::Maintenance::NewStub(options.maintenance);
  impl->router = std::make_unique<ApiRouter>(impl->stub);
  impl->hub = std::make_unique<EventHub>(impl->stub, options.watch_token);
  if (options.metrics) {
    impl->requests = &prometheus::BuildCounter()
                          .Name("agentcom_gateway_http_responses_total")
                          .Help("HTTP responses of the gateway's JSON API by status code.")
                          .Register(*options.metrics);
    impl->ws_clients = &prometheus::BuildGauge()
                            .Name("agentcom_gateway_websocket_clients")
                            .Help("Connected WebSocket clients.")
                            .Register(*options.metrics)
                            .Add({});
  }
  if (!options.static_dir.empty()) {
    std::error_code ec;
    for (const auto& e : std::filesystem::recursive_directory_iterator(options.static_dir, ec)) {
      if (!e.is_regular_file()) continue;
      std::ifstream in(e.path(), std::ios::binary);
      std::stringstream body;
      body << in.rdbuf();
      const std::string rel =
          "/" + std::filesystem::relative(e.path(), options.static_dir).generic_string();
      impl->files[rel] = {ContentType(rel), body.str()};
    }
    if (ec || impl->files.empty()) {
      return absl::NotFoundError(absl::StrCat("no dashboard files in ", options.static_dir));
    }
  }
  const size_t colon = options.address.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(options.address.substr(colon + 1), &port)) {
    return absl::InvalidArgumentError(absl::StrCat("'", options.address, "' is not host:port"));
  }
  beast::error_code ec;
  auto address = asio::ip::make_address(options.address.substr(0, colon), ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("bad address ", options.address));
  tcp::endpoint endpoint(address, static_cast<uint16_t>(port));
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.address, ": ", ec.message()));
  }
  impl->port = impl->acceptor.local_endpoint().port();
  impl->Accept();
  for (int i = 0; i < 2; ++i) impl->io_threads.emplace_back([io = &impl->io] { io->run(); });
  return std::unique_ptr<GatewayServer>(new GatewayServer(std::move(impl)));
}

void GatewayServer::Shutdown() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  beast::error_code ec;
  impl_->acceptor.close(ec);
  impl_->io.stop();
  for (auto& t : impl_->io_threads) t.join();
  impl_->workers.join();
  impl_->hub.reset();
}

}  // namespace agentcom::gateway
