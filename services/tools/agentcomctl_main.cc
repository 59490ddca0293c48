// agentcomctl: prepares a deployment from the topology file.
//   agentcomctl init --config=FILE
//       creates the data, backup and state directories and the token and
//       supervisord password files (mode 0600) when missing.
//   agentcomctl supervisord-conf --config=FILE --bin-dir=DIR --run-dir=DIR
//                                [--static-dir=DIR] [--programs=stores,maintenance,gateway]
//       prints supervisord.conf for the topology.
//   agentcomctl endpoints --config=FILE
//       prints one line per process: name, gRPC address, metrics URL.
//   agentcomctl verify-backup --config=FILE --table=NAME [--backup=ID]
//       verifies one backup (or every backup of the table) read-only, as
//       maintenance does; exit 0 when every one verifies, 1 otherwise.
//   agentcomctl restore --config=FILE --table=NAME [--backup=ID | --to=TIME]
//                       [--dry-run=true]
//       restores a table while maintenance and the table's store are
//       stopped, with maintenance's own restore code: the table goes to
//       quarantine, the backup (the newest that verifies, or ID) is
//       installed and verified, the journal and events are written to the
//       state directory. --to (RFC 3339, e.g. 2026-11-26T14:04:00Z) brings
//       the table back as it was at that time. --dry-run=true only prints
//       what the restore would bring back, touching nothing (it may run
//       while everything runs). Prints the result as JSON; exit 0 when
//       restored.
#include <filesystem>
#include <iostream>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/auth/tokens.h"
#include "common/config/topology.h"
#include "services/tools/offline_restore.h"
#include "services/tools/supervisord_conf.h"

namespace {

int Usage() {
  std::cerr << "usage: agentcomctl init --config=FILE\n"
               "       agentcomctl supervisord-conf --config=FILE --bin-dir=DIR --run-dir=DIR\n"
               "       agentcomctl endpoints --config=FILE\n"
               "       agentcomctl verify-backup --config=FILE --table=NAME [--backup=ID]\n"
               "       agentcomctl restore --config=FILE --table=NAME [--backup=ID | --to=TIME]\n"
               "                           [--dry-run=true]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return Usage();
  const std::string command = argv[1];
  std::map<std::string, std::string> flags;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    size_t eq = a.find('=');
    if (a.rfind("--", 0) != 0 || eq == std::string::npos) return Usage();
    flags[a.substr(2, eq - 2)] = a.substr(eq + 1);
  }
  if (flags["config"].empty()) return Usage();
  const std::string config_path = std::filesystem::absolute(flags["config"]).string();
  auto topology = agentcom::config::LoadTopology(config_path);
  if (!topology.ok()) {
    std::cerr << topology.status().message() << "\n";
    return 1;
  }
  if (command == "init") {
    for (const std::string& dir :
         {topology->data_dir(), topology->backup_dir(), topology->state_dir()}) {
      std::error_code ec;
      std::filesystem::create_directories(dir, ec);
      if (ec) {
        std::cerr << "cannot create " << dir << ": " << ec.message() << "\n";
        return 1;
      }
    }
    for (const std::string& file :
         {topology->tokens().agent_token_file(), topology->tokens().admin_token_file(),
          topology->supervisor().password_file()}) {
      auto token = agentcom::auth::LoadOrCreateToken(file);
      if (!token.ok()) {
        std::cerr << token.status().message() << "\n";
        return 1;
      }
    }
    return 0;
  }
  if (command == "supervisord-conf") {
    if (flags["bin-dir"].empty() || flags["run-dir"].empty()) return Usage();
    auto password = agentcom::auth::LoadOrCreateToken(topology->supervisor().password_file());
    if (!password.ok()) {
      std::cerr << password.status().message() << "\n";
      return 1;
    }
    const std::string programs =
        flags["programs"].empty() ? "stores,maintenance,gateway" : flags["programs"];
    auto has = [&](const char* p) { return programs.find(p) != std::string::npos; };
    std::cout << agentcom::tools::RenderSupervisordConf(
        *topology, {.config_path = config_path,
                    .bin_dir = std::filesystem::absolute(flags["bin-dir"]).string(),
                    .run_dir = std::filesystem::absolute(flags["run-dir"]).string(),
                    .password = *password,
                    .static_dir = flags["static-dir"].empty()
                                      ? std::string()
                                      : std::filesystem::absolute(flags["static-dir"]).string(),
                    .stores = has("stores"),
                    .maintenance = has("maintenance"),
                    .gateway = has("gateway")});
    return 0;
  }
  if (command == "verify-backup") {
    if (flags["table"].empty()) return Usage();
    return agentcom::tools::VerifyBackups(*topology, flags["table"], flags["backup"], std::cout,
                                          std::cerr);
  }
  if (command == "restore") {
    if (flags["table"].empty()) return Usage();
    agentcom::maintenance::RestoreTarget target{.dry_run = flags["dry-run"] == "true"};
    if (!flags["to"].empty()) {
      absl::Time to;
      std::string error;
      if (!absl::ParseTime(absl::RFC3339_full, flags["to"], &to, &error)) {
        std::cerr << "--to=" << flags["to"] << " is not an RFC 3339 time (" << error
                  << "), e.g. 2026-11-26T14:04:00Z\n";
        return 2;
      }
      target.time = to;
    }
    return agentcom::tools::RestoreOffline(*topology, flags["table"], flags["backup"], target,
                                           std::cout, std::cerr);
  }
  if (command == "endpoints") {
    std::cout << "maintenance " << topology->maintenance().address() << " http://"
              << topology->maintenance().metrics_address() << "/metrics\n";
    std::cout << "gateway http://" << topology->gateway().address() << "/ http://"
              << topology->gateway().metrics_address() << "/metrics\n";
    for (const auto& store : topology->stores()) {
      std::cout << store.name() << " " << store.address() << " http://" << store.metrics_address()
                << "/metrics\n";
    }
    return 0;
  }
  return Usage();
}
