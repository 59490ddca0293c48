#ifndef AGENTCOM_SERVICES_CONFIG_CONFIG_STORE_H_
#define AGENTCOM_SERVICES_CONFIG_CONFIG_STORE_H_

#include <array>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "agentcom/config/v1/config.pb.h"
#include "agentcom/topology/v1/topology.pb.h"
#include "common/clock/clock.h"
#include "common/server/api_checks.h"
#include "common/storage/queued_values.h"
#include "common/storage/table.h"

namespace agentcom::config_store {

namespace v1 = ::agentcom::config::v1;

inline constexpr char kConfigTable[] = "agentcom_config";

// Versioned key/value settings over one table (see config.proto for the
// contract). Each record is key -> Entry. Knows nothing of gRPC.
// Thread-safe: read-modify-write of one key is serialised by a stripe lock,
// held while the write is queued (not while it syncs), and computed from
// the writes queued before it, which makes compare-and-set exact.
class ConfigStore {
 public:
  // `clock` stamps update times; not owned.
  ConfigStore(storage::Table* table, topology::v1::Limits limits, Clock* clock)
      : table_(table), limits_(std::move(limits)), clock_(clock) {}

  absl::StatusOr<v1::Entry> Get(const v1::GetRequest& request);
  // Answers once the write has committed, without the caller waiting for it.
  void PutAsync(const v1::PutRequest& request, server::Reply<v1::Entry> reply);
  absl::StatusOr<v1::Entry> Put(const v1::PutRequest& request);
  absl::Status Delete(const v1::DeleteRequest& request);
  absl::StatusOr<v1::ListResponse> List(const v1::ListRequest& request);

 private:
  static constexpr int kStripes = 64;
  absl::Mutex& StripeOf(const std::string& key);
  // The entry as the writes queued so far leave it (nullopt: absent).
  // Called with the key's stripe held.
  absl::StatusOr<std::optional<v1::Entry>> Current(const std::string& key);

  storage::Table* const table_;
  const topology::v1::Limits limits_;
  Clock* const clock_;
  std::array<absl::Mutex, kStripes> stripes_;
  // Entries whose writes are queued (nullopt: a delete).
  storage::QueuedValues<std::optional<v1::Entry>> queued_;
};

}  // namespace agentcom::config_store

#endif  // AGENTCOM_SERVICES_CONFIG_CONFIG_STORE_H_
