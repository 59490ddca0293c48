#include "common/fault/fault.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "common/logging/log.h"

namespace agentcom::fault {

void KillHereIfAsked(absl::string_view point) {
  static const char* spec = std::getenv("AGENTCOM_FAULT_KILL_AT");
  if (spec == nullptr) return;
  const std::vector<std::string> parts = absl::StrSplit(spec, absl::MaxSplits(':', 1));
  if (parts.size() != 2 || parts[0] != point || std::filesystem::exists(parts[1])) return;
  std::ofstream(parts[1]) << point;
  log::Warn("fault injection: SIGKILL", {{"point", std::string(point)}});
  log::Flush();
  kill(getpid(), SIGKILL);
}

}  // namespace agentcom::fault
