#ifndef AGENTCOM_SERVICES_MAINTENANCE_OFFLINE_STORE_H_
#define AGENTCOM_SERVICES_MAINTENANCE_OFFLINE_STORE_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/config/topology.h"
#include "common/storage/table.h"
#include "services/maintenance/store_client.h"
#include "services/maintenance/supervisor.h"

namespace leveldb {
class Env;
}

namespace agentcom::maintenance {

// The store processes of a topology played in this process: "starting" a
// store opens its tables from the data directory, "stopping" it closes them,
// and the StoreAdmin calls run on those tables. It lets the Restorer (the
// same code maintenance runs) restore a table while its store process is
// stopped (agentcomctl restore), and tests run maintenance without
// processes. Opening a table another process holds fails (LevelDB's lock),
// so it never runs beside a live store. Thread-safe.
class OfflineStore : public ProcessSupervisor, public StoreClient {
 public:
  // `env` (not owned) is given to the tables; nullptr: leveldb's default.
  // `clock` (nullptr: the real one) stamps the tables' commits.
  explicit OfflineStore(config::Topology topology, leveldb::Env* env = nullptr,
                        Clock* clock = nullptr);
  ~OfflineStore() override;

  // ProcessSupervisor. Start opens the store's tables (OK when they are
  // open); an error opening one (e.g. held by a running store process)
  // closes the others and is returned. Stop closes them.
  absl::Status Stop(const std::string& store) override;
  absl::Status Start(const std::string& store) override;
  absl::StatusOr<ProcessState> GetState(const std::string& store) override;

  // StoreClient, on the open tables. A table whose store is not started is
  // UNAVAILABLE naming the store.
  absl::StatusOr<common::v1::TableStats> GetTableStats(const std::string& table) override;
  absl::StatusOr<store_admin::v1::CompactResponse> Compact(const std::string& table) override;
  absl::StatusOr<store_admin::v1::SnapshotResponse> Snapshot(const std::string& table) override;
  absl::StatusOr<store_admin::v1::VerifyResponse> Verify(const std::string& table) override;
  absl::StatusOr<store_admin::v1::FinishRestoreResponse> FinishRestore(
      const std::string& table, const storage::RestoreExpectation& expected) override;
  absl::Status WaitServing(const std::string& table, absl::Duration timeout) override;

  // The open table (UNAVAILABLE when its store is not started).
  absl::StatusOr<storage::Table*> Find(const std::string& table);

 protected:
  const config::Topology& topology() const { return topology_; }

 private:
  const config::Topology topology_;
  leveldb::Env* const env_;
  Clock* const clock_;
  absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<storage::Table>> tables_ ABSL_GUARDED_BY(mu_);
};

}  // namespace agentcom::maintenance

#endif  // AGENTCOM_SERVICES_MAINTENANCE_OFFLINE_STORE_H_
