#ifndef AGENTCOM_TESTS_SUPPORT_FAKE_HTTP_SERVER_H_
#define AGENTCOM_TESTS_SUPPORT_FAKE_HTTP_SERVER_H_

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace agentcom::testing {

// A small HTTP/1.1 server on 127.0.0.1 (port chosen by the OS) that answers
// every request with `handler` and records what it received: a stand-in for
// supervisord's XML-RPC endpoint and for webhook receivers. One connection
// at a time. Thread-safe.
class FakeHttpServer {
 public:
  struct Request {
    std::string method;
    std::string target;
    std::string authorization;
    std::string content_type;
    std::string body;
  };
  struct Reply {
    int status = 200;
    std::string body;
  };
  using Handler = std::function<Reply(const Request&)>;

  explicit FakeHttpServer(Handler handler)
      : handler_(std::move(handler)),
        acceptor_(ioc_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeHttpServer() {
    {
      absl::MutexLock l(&mu_);
      stopping_ = true;
    }
    // Closing the acceptor does not wake a thread blocked in accept():
    // a connection does.
    boost::system::error_code ec;
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::socket wake(ioc);
    wake.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port())}, ec);
    thread_.join();
  }

  int port() const { return acceptor_.local_endpoint().port(); }
  std::string address() const { return "127.0.0.1:" + std::to_string(port()); }
  std::vector<Request> requests() {
    absl::MutexLock l(&mu_);
    return requests_;
  }
  // True once `n` requests arrived, false after `timeout`.
  bool WaitForRequests(size_t n, absl::Duration timeout) {
    absl::MutexLock l(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return requests_.size() >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
  }

 private:
  void Serve() {
    namespace http = boost::beast::http;
    while (true) {
      boost::system::error_code ec;
      boost::asio::ip::tcp::socket socket(ioc_);
      acceptor_.accept(socket, ec);
      {
        absl::MutexLock l(&mu_);
        if (ec || stopping_) return;
      }
      boost::beast::flat_buffer buffer;
      while (true) {
        http::request<http::string_body> req;
        http::read(socket, buffer, req, ec);
        if (ec) break;
        Request r{std::string(req.method_string()), std::string(req.target()),
                  std::string(req[http::field::authorization]),
                  std::string(req[http::field::content_type]), req.body()};
        {
          absl::MutexLock l(&mu_);
          requests_.push_back(r);
        }
        Reply reply = handler_(r);
        http::response<http::string_body> res(static_cast<http::status>(reply.status),
                                              req.version());
        res.body() = reply.body;
        res.keep_alive(req.keep_alive());
        res.prepare_payload();
        http::write(socket, res, ec);
        if (ec || !req.keep_alive()) break;
      }
      socket.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
    }
  }

  Handler handler_;
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  absl::Mutex mu_;
  std::vector<Request> requests_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace agentcom::testing

#endif  // AGENTCOM_TESTS_SUPPORT_FAKE_HTTP_SERVER_H_
