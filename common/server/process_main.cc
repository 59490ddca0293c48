#include "common/server/process_main.h"

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/synchronization/mutex.h"
#include "common/logging/log.h"
#include "common/server/grpc_server.h"

ABSL_FLAG(std::string, config, "", "Topology file (default: $AGENTCOM_CONFIG).");

namespace agentcom::server {

absl::StatusOr<config::Topology> BeginMain(int argc, char** argv,
                                           const std::function<std::string()>& process) {
  BlockShutdownSignals();
#ifdef NDEBUG
  // Debian builds Abseil without NDEBUG, which leaves absl::Mutex's deadlock
  // detection on: every lock then updates a global lock-order graph, gRPC's
  // internal locks included (about 45 ns per lock, and a global spinlock).
  // Release builds of the processes turn it off; tests keep it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
#endif
  absl::ParseCommandLine(argc, argv);
  const std::string name = process();
  log::Init(name, "info");
  const std::string path = config::FlagOrEnv(absl::GetFlag(FLAGS_config), "AGENTCOM_CONFIG", "");
  if (path.empty()) {
    log::Error("no topology file: pass --config or set AGENTCOM_CONFIG");
    return absl::InvalidArgumentError("no topology file");
  }
  absl::StatusOr<config::Topology> topology = config::LoadTopology(path);
  if (!topology.ok()) {
    log::Error("invalid topology", {{"error", std::string(topology.status().message())}});
    return topology.status();
  }
  log::Init(name, topology->log_level());
  return topology;
}

}  // namespace agentcom::server
