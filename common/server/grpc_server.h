#ifndef AGENTCOM_COMMON_SERVER_GRPC_SERVER_H_
#define AGENTCOM_COMMON_SERVER_GRPC_SERVER_H_

#include <grpcpp/server.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace agentcom::server {

struct ServerOptions {
  // host:port; port 0 picks a free port (see GrpcServer::port()).
  std::string address;
  // Larger requests are refused with RESOURCE_EXHAUSTED before any handler runs.
  int max_request_bytes = 4 << 20;
  // When set, request metrics are recorded into it.
  std::shared_ptr<prometheus::Registry> metrics;
};

// The gRPC server every process runs: the given services plus server
// reflection (so grpcurl needs no proto files) and the standard
// grpc.health.v1.Health service (no token needed), with request metrics.
// Thread-safe.
class GrpcServer {
 public:
  // Starts serving. `services` are not owned and must outlive the server.
  // UNAVAILABLE when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<GrpcServer>> Start(
      const ServerOptions& options, const std::vector<grpc::Service*>& services);
  ~GrpcServer();

  int port() const { return port_; }

  // Health of the whole server (the "" service in grpc.health.v1).
  void SetServing(bool serving);

  // Stops accepting calls and waits up to `grace` for running ones, then
  // cancels the rest. Idempotent.
  void Shutdown(absl::Duration grace);

 private:
  GrpcServer(std::unique_ptr<grpc::Server> server, int port);
  std::unique_ptr<grpc::Server> server_;
  int port_;
  bool shut_down_ = false;
};

// Blocks SIGTERM and SIGINT in the calling thread and every thread it
// creates afterwards. Call first thing in main().
void BlockShutdownSignals();

// Waits for SIGTERM or SIGINT (blocked by BlockShutdownSignals) and returns
// its number.
int WaitForShutdownSignal();

// Ends the process with `code` once its orderly shutdown is done (requests
// drained, tables closed, logs flushed), without running the remaining
// destructors: the Prometheus exposer's embedded web server takes about a
// second to join its threads, which a restore waiting for a store to stop
// would otherwise pay every time.
[[noreturn]] void ExitAfterShutdown(int code);

}  // namespace agentcom::server

#endif  // AGENTCOM_COMMON_SERVER_GRPC_SERVER_H_
