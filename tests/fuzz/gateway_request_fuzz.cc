// libFuzzer target (issue 8): the gateway's request handling. The input is
// raw bytes from a client socket; they go through the same Boost.Beast
// parser with the gateway's header and body limits, and a request that
// parses goes through the route table (path and query parsing, table names,
// JSON bodies) to a maintenance stub that answers UNIMPLEMENTED. Any input
// must give an HTTP status, never a crash.
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "agentcom/maintenance/v1/maintenance.grpc.pb.h"
#include "services/gateway/api_router.h"

namespace {

namespace http = boost::beast::http;

struct Fixture {
  Fixture() {
    grpc::ServerBuilder builder;
    builder.RegisterService(&service);
    server = builder.BuildAndStart();
    router = std::make_unique<agentcom::gateway::ApiRouter>(
        agentcom::maintenance::v1::Maintenance::NewStub(
            server->InProcessChannel(grpc::ChannelArguments())));
  }
  agentcom::maintenance::v1::Maintenance::Service service;  // UNIMPLEMENTED
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<agentcom::gateway::ApiRouter> router;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture* fixture = new Fixture();
  http::request_parser<http::string_body> parser;
  parser.header_limit(8 * 1024);  // as GatewayServer (kHeaderLimit)
  parser.body_limit(1 << 20);
  boost::beast::error_code ec;
  size_t used = parser.put(boost::asio::buffer(data, size), ec);
  if (!ec && !parser.is_done()) parser.put_eof(ec);
  (void)used;
  if (ec || !parser.is_done()) return 0;
  const auto& req = parser.get();
  std::string auth;
  if (auto it = req.find(http::field::authorization); it != req.end()) auth = std::string(it->value());
  agentcom::gateway::HttpResponse r = fixture->router->Handle(
      std::string(req.method_string()), std::string(req.target()), auth, req.body());
  if (r.status < 200 || r.status > 599) __builtin_trap();
  return 0;
}
