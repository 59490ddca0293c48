#ifndef AGENTCOM_COMMON_CONFIG_TOPOLOGY_H_
#define AGENTCOM_COMMON_CONFIG_TOPOLOGY_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "agentcom/topology/v1/topology.pb.h"

namespace agentcom::config {

using Topology = ::agentcom::topology::v1::Topology;
using StoreSpec = ::agentcom::topology::v1::Store;
using TableSpec = ::agentcom::topology::v1::Table;
using StorageSettings = ::agentcom::topology::v1::Storage;

// Defaults applied by ParseTopology to unset settings.
inline constexpr uint32_t kDefaultFlushIntervalMs = 100;
inline constexpr uint32_t kDefaultBlockCacheMb = 8;
inline constexpr uint32_t kDefaultWriteBufferMb = 4;
inline constexpr uint32_t kDefaultMaxOpenFiles = 200;
inline constexpr uint32_t kDefaultWalShipIntervalMs = 1000;
inline constexpr uint32_t kDefaultMaxBodyBytes = 1 << 20;
inline constexpr uint32_t kDefaultMaxIdBytes = 128;

// Parses a topology file's text. Relative paths are resolved against
// `base_dir`; defaults are filled in; the result is validated. Errors are
// INVALID_ARGUMENT naming the key, e.g. "stores[0].address: ...".
absl::StatusOr<Topology> ParseTopology(absl::string_view yaml, absl::string_view base_dir);

// Reads and parses the file at `path` (relative paths resolve against the
// file's directory). Errors name the file.
absl::StatusOr<Topology> LoadTopology(const std::string& path);

// The store named `name`, or NOT_FOUND.
absl::StatusOr<const StoreSpec*> FindStore(const Topology& topology, absl::string_view name);

// The store that owns `table`, or NOT_FOUND naming the table.
absl::StatusOr<const StoreSpec*> FindStoreOfTable(const Topology& topology,
                                                  absl::string_view table);

// The table's storage settings: the topology's defaults overridden by the
// table's own. Every field is set.
StorageSettings EffectiveStorage(const Topology& topology, const TableSpec& table);

// A command-line flag's value, else the environment variable `env` (for
// containers), else `fallback`. Used by every main() for --config and --store.
std::string FlagOrEnv(const std::string& flag, const char* env, const std::string& fallback);

}  // namespace agentcom::config

#endif  // AGENTCOM_COMMON_CONFIG_TOPOLOGY_H_
