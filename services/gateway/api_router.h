#ifndef AGENTCOM_SERVICES_GATEWAY_API_ROUTER_H_
#define AGENTCOM_SERVICES_GATEWAY_API_ROUTER_H_

#include <grpcpp/support/status.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agentcom/maintenance/v1/maintenance.grpc.pb.h"

namespace agentcom::gateway {

struct HttpResponse {
  int status = 200;
  std::string body;  // JSON
};

// The one place gRPC status codes become HTTP status codes.
int HttpStatusFor(grpc::StatusCode code);

// The HTTP/JSON admin API: one route table translating each route to a
// Maintenance RPC. Request and response bodies use the protobuf JSON mapping
// (field names as in the protos); errors are {"error": {"code", "message"}}.
// The caller's "Authorization: Bearer ..." is passed through to maintenance,
// which decides. Thread-safe; calls block on the RPC.
class ApiRouter {
 public:
  explicit ApiRouter(std::shared_ptr<maintenance::v1::Maintenance::StubInterface> stub);

  // `target` is the request target (path and query). Unknown routes are 404,
  // a known path with another method 405.
  HttpResponse Handle(const std::string& method, const std::string& target,
                      const std::string& authorization, const std::string& body) const;

  // "GET /api/admin/health" ... for docs and tests.
  std::vector<std::string> RouteList() const;

 private:
  struct Call {
    std::string authorization;
    std::string body;
    std::string table;   // the {table} path parameter, if any
    std::string query;   // raw query string
  };
  struct Route {
    std::string method;
    std::string prefix;     // path up to the parameter
    bool has_table;         // the path ends in /{table}
    std::function<HttpResponse(const Call&)> handle;
  };

  std::shared_ptr<maintenance::v1::Maintenance::StubInterface> stub_;
  std::vector<Route> routes_;
};

// JSON error body for an HTTP status and message.
HttpResponse JsonError(int status, const std::string& code, const std::string& message);

}  // namespace agentcom::gateway

#endif  // AGENTCOM_SERVICES_GATEWAY_API_ROUTER_H_
