// libFuzzer target (issue 8): the topology file parser, which reads an
// operator's YAML (yaml-cpp, then a reflection walk into the Topology proto,
// then validation). Any input must give a Topology or a clear error; never a
// crash, a hang or a sanitizer report.
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "common/config/topology.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view yaml(reinterpret_cast<const char*>(data), size);
  auto topology = agentcom::config::ParseTopology(yaml, "/nonexistent-base");
  if (!topology.ok() && topology.status().message().empty()) __builtin_trap();  // errors explain
  return 0;
}
