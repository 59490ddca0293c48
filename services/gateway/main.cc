// The gateway process: HTTP/JSON and WebSocket in front of maintenance, and
// the operator dashboard.
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <cstdlib>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "common/auth/tokens.h"
#include "common/config/topology.h"
#include "common/logging/log.h"
#include "common/metrics/metrics_server.h"
#include "common/server/grpc_server.h"
#include "services/gateway/gateway_server.h"

ABSL_FLAG(std::string, config, "", "Topology file (default: $AGENTCOM_CONFIG).");
ABSL_FLAG(std::string, static_dir, "", "Dashboard files (default: topology gateway.static_dir).");

int main(int argc, char** argv) {
  using namespace agentcom;
  server::BlockShutdownSignals();
  absl::ParseCommandLine(argc, argv);
  const std::string config_path =
      config::FlagOrEnv(absl::GetFlag(FLAGS_config), "AGENTCOM_CONFIG", "");
  log::Init("gateway", "info");
  if (config_path.empty()) {
    log::Error("no topology file: pass --config or set AGENTCOM_CONFIG");
    return 2;
  }
  auto topology = config::LoadTopology(config_path);
  if (!topology.ok()) {
    log::Error("invalid topology", {{"error", std::string(topology.status().message())}});
    return 2;
  }
  log::Init("gateway", topology->log_level());
  auto token = auth::LoadOrCreateToken(topology->tokens().admin_token_file());
  if (!token.ok()) {
    log::Error("cannot read the admin token", {{"error", std::string(token.status().message())}});
    return 1;
  }
  auto metrics = metrics::MetricsServer::Start(topology->gateway().metrics_address());
  if (!metrics.ok()) {
    log::Error("cannot start", {{"error", std::string(metrics.status().message())}});
    return 1;
  }
  std::string static_dir = absl::GetFlag(FLAGS_static_dir);
  if (static_dir.empty()) static_dir = topology->gateway().static_dir();
  gateway::GatewayServer::Options options;
  options.address = topology->gateway().address();
  options.static_dir = static_dir;
  options.max_body_bytes = topology->gateway().max_body_bytes();
  options.idle_timeout = absl::Seconds(topology->gateway().idle_timeout_seconds());
  options.maintenance = grpc::CreateChannel(topology->maintenance().address(),
                                            grpc::InsecureChannelCredentials());
  options.watch_token = *token;
  options.metrics = (*metrics)->registry();
  auto server = gateway::GatewayServer::Start(options);
  if (!server.ok()) {
    log::Error("cannot start", {{"error", std::string(server.status().message())}});
    return 1;
  }
  log::Info("serving", {{"url", absl::StrCat("http://", topology->gateway().address(), "/")},
                        {"static_dir", static_dir}});
  server::WaitForShutdownSignal();
  (*server)->Shutdown();
  log::Info("stopped");
  server::ExitAfterShutdown(0);
}
