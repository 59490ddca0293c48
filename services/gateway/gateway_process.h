#ifndef AGENTCOM_SERVICES_GATEWAY_GATEWAY_PROCESS_H_
#define AGENTCOM_SERVICES_GATEWAY_GATEWAY_PROCESS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/config/topology.h"
#include "common/metrics/metrics_server.h"
#include "services/gateway/gateway_server.h"

namespace agentcom::gateway {

// A running gateway as the topology describes it: the HTTP/WebSocket server
// in front of maintenance and its /metrics endpoint. Used by main() and by
// tests. Thread-safe.
class GatewayProcess {
 public:
  struct Options {
    config::Topology topology;
    // Overrides topology gateway.static_dir when not empty.
    std::string static_dir;
  };

  // Reads (or creates) the admin token the gateway watches events with,
  // starts the metrics endpoint and the server. Errors: an unreadable token
  // file, an address that cannot be bound, a missing static directory.
  static absl::StatusOr<std::unique_ptr<GatewayProcess>> Create(const Options& options);

  int port() const { return server_->port(); }
  int metrics_port() const { return metrics_->port(); }
  const std::string& static_dir() const { return static_dir_; }
  void Shutdown() { server_->Shutdown(); }

 private:
  GatewayProcess() = default;
  std::string static_dir_;
  std::unique_ptr<metrics::MetricsServer> metrics_;
  std::unique_ptr<GatewayServer> server_;
};

// main() of the gateway: --config (env AGENTCOM_CONFIG), --static_dir; runs
// until SIGTERM or SIGINT. Returns the exit code.
int RunGatewayMain(int argc, char** argv);

}  // namespace agentcom::gateway

#endif  // AGENTCOM_SERVICES_GATEWAY_GATEWAY_PROCESS_H_
