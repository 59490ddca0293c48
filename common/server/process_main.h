#ifndef AGENTCOM_COMMON_SERVER_PROCESS_MAIN_H_
#define AGENTCOM_COMMON_SERVER_PROCESS_MAIN_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "common/config/topology.h"

namespace agentcom::server {

// The first lines of every process's main(): blocks SIGTERM and SIGINT (for
// WaitForShutdownSignal), parses the command line, starts logging as the
// name `process` returns (called after parsing, so it may read flags), loads
// the topology named by --config (else $AGENTCOM_CONFIG) and applies its log
// level. On error it logs why and returns it; main() then exits with 2.
absl::StatusOr<config::Topology> BeginMain(int argc, char** argv,
                                           const std::function<std::string()>& process);

}  // namespace agentcom::server

#endif  // AGENTCOM_COMMON_SERVER_PROCESS_MAIN_H_
