#ifndef AGENTCOM_SERVICES_MAINTENANCE_STORE_CLIENT_H_
#define AGENTCOM_SERVICES_MAINTENANCE_STORE_CLIENT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agentcom/store_admin/v1/store_admin.pb.h"
#include "common/config/topology.h"
#include "common/storage/table.h"

namespace agentcom::maintenance {

// What maintenance asks of store processes: StoreAdmin calls and health,
// addressed by table. The core sees only this, so unit tests use fakes.
// Thread-safe.
class StoreClient {
 public:
  virtual ~StoreClient() = default;
  virtual absl::StatusOr<common::v1::TableStats> GetTableStats(const std::string& table) = 0;
  virtual absl::StatusOr<store_admin::v1::CompactResponse> Compact(const std::string& table) = 0;
  virtual absl::StatusOr<store_admin::v1::SnapshotResponse> Snapshot(const std::string& table) = 0;
  virtual absl::StatusOr<store_admin::v1::VerifyResponse> Verify(const std::string& table) = 0;
  // StoreAdmin.FinishRestore: the restored table serves once it holds what
  // `expected` names (storage::Table::FinishRestore).
  virtual absl::StatusOr<store_admin::v1::FinishRestoreResponse> FinishRestore(
      const std::string& table, const storage::RestoreExpectation& expected) = 0;
  // OK once the table's store answers its health check with SERVING; waits
  // up to `timeout`.
  virtual absl::Status WaitServing(const std::string& table, absl::Duration timeout) = 0;
};

// StoreClient over gRPC to the addresses in the topology, with the admin
// token. Unreachable stores are UNAVAILABLE naming the store (B6).
std::unique_ptr<StoreClient> NewGrpcStoreClient(const config::Topology& topology,
                                                const std::string& admin_token);

}  // namespace agentcom::maintenance

#endif  // AGENTCOM_SERVICES_MAINTENANCE_STORE_CLIENT_H_
