#ifndef AGENTCOM_SERVICES_TOOLS_SUPERVISORD_CONF_H_
#define AGENTCOM_SERVICES_TOOLS_SUPERVISORD_CONF_H_

#include <string>

#include "common/config/topology.h"

namespace agentcom::tools {

struct SupervisordOptions {
  // Absolute path of the topology file the processes are started with.
  std::string config_path;
  // Directory holding the agentcom_* binaries.
  std::string bin_dir;
  // supervisord's pid file, and logs/ (one file per program) under it.
  std::string run_dir;
  // supervisord's XML-RPC password (topology supervisor.password_file).
  std::string password;
  // The dashboard's files for the gateway (services/gateway/static).
  std::string static_dir = {};
  // Which programs to include: "stores", "maintenance", "gateway".
  bool stores = true;
  bool maintenance = true;
  bool gateway = true;
};

// supervisord.conf for the topology: one [program:<store>] per store
// running agentcom_<kind>_store --config=... --store=<name>, then
// [program:maintenance] and [program:gateway], supervisord's XML-RPC
// endpoint on supervisor.address with username and password, everything in
// the foreground so Ctrl-C stops it all. Deterministic output.
std::string RenderSupervisordConf(const config::Topology& topology,
                                  const SupervisordOptions& options);

}  // namespace agentcom::tools

#endif  // AGENTCOM_SERVICES_TOOLS_SUPERVISORD_CONF_H_
