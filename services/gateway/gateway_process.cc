#include "services/gateway/gateway_process.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "common/auth/tokens.h"
#include "common/logging/log.h"
#include "common/server/grpc_server.h"
#include "common/server/process_main.h"

ABSL_FLAG(std::string, static_dir, "", "Dashboard files (default: topology gateway.static_dir).");

namespace agentcom::gateway {

absl::StatusOr<std::unique_ptr<GatewayProcess>> GatewayProcess::Create(const Options& options) {
  const config::Topology& topology = options.topology;
  auto p = std::unique_ptr<GatewayProcess>(new GatewayProcess());
  auto token = auth::LoadOrCreateToken(topology.tokens().admin_token_file());
  if (!token.ok()) return token.status();
  auto metrics = metrics::MetricsServer::Start(topology.gateway().metrics_address());
  if (!metrics.ok()) return metrics.status();
  p->metrics_ = *std::move(metrics);
  p->static_dir_ =
      options.static_dir.empty() ? topology.gateway().static_dir() : options.static_dir;
  GatewayServer::Options o;
  o.address = topology.gateway().address();
  o.static_dir = p->static_dir_;
  o.max_body_bytes = topology.gateway().max_body_bytes();
  o.idle_timeout = absl::Seconds(topology.gateway().idle_timeout_seconds());
  o.maintenance =
      grpc::CreateChannel(topology.maintenance().address(), grpc::InsecureChannelCredentials());
  o.watch_token = *token;
  o.metrics = p->metrics_->registry();
  auto server = GatewayServer::Start(o);
  if (!server.ok()) return server.status();
  p->server_ = *std::move(server);
  return p;
}

int RunGatewayMain(int argc, char** argv) {
  auto topology = server::BeginMain(argc, argv, [] { return "gateway"; });
  if (!topology.ok()) return 2;
  auto process = GatewayProcess::Create({*topology, absl::GetFlag(FLAGS_static_dir)});
  if (!process.ok()) {
    log::Error("cannot start", {{"error", std::string(process.status().message())}});
    return 1;
  }
  log::Info("serving", {{"url", absl::StrCat("http://", topology->gateway().address(), "/")},
                        {"static_dir", (*process)->static_dir()}});
  server::WaitForShutdownSignal();
  (*process)->Shutdown();
  log::Info("stopped");
  server::ExitAfterShutdown(0);
}

}  // namespace agentcom::gateway
