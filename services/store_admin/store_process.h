#ifndef AGENTCOM_SERVICES_STORE_ADMIN_STORE_PROCESS_H_
#define AGENTCOM_SERVICES_STORE_ADMIN_STORE_PROCESS_H_

#include <grpcpp/impl/service_type.h>
#include <prometheus/counter.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agentcom/maintenance/v1/maintenance.grpc.pb.h"
#include "common/auth/authorizer.h"
#include "common/config/topology.h"
#include "common/metrics/metrics_server.h"
#include "common/server/call_pool.h"
#include "common/server/grpc_server.h"
#include "common/server/wait_room.h"
#include "common/storage/table_metrics.h"
#include "common/storage/table_set.h"
#include "services/store_admin/corruption_reporter.h"

namespace leveldb {
class Env;
}

namespace agentcom::store_admin {

// What a domain service gets to build itself.
struct StoreContext {
  const config::Topology& topology;
  const config::StoreSpec& store;
  const auth::Authorizer& authorizer;
  const storage::TableSet& tables;
  // Registers work to run each time a restored table starts serving (e.g.
  // replaying cross-table changes that start-up could not finish because a
  // table was RESTORING). What it captures must outlive the server.
  std::function<void(std::function<absl::Status()>)> after_restore;
  // The process's /metrics registry.
  std::shared_ptr<prometheus::Registry> metrics;
  // Every room MakeWaitRoom made, closed when the process shuts down.
  std::vector<server::WaitRoom*>* rooms = nullptr;
  // Where the agent calls that may block on a table run (HandleOnPool).
  server::CallPool* calls = nullptr;

  // A room for the push streams and waiting calls of `service` (a metric
  // label), with the topology's watcher limits.
  std::unique_ptr<server::WaitRoom> MakeWaitRoom(const std::string& service) const;
};

// One kind of store process (mailbox, config, ...): the tables it needs and
// the domain services it serves next to StoreAdmin.
struct StoreDefinition {
  // Default store name (--store) and log name.
  std::string kind;
  // Tables the domain services use; each must be in the store's topology.
  std::vector<std::string> required_tables;
  std::function<absl::StatusOr<std::vector<std::unique_ptr<grpc::Service>>>(const StoreContext&)>
      make_services;
};

// A running store: its tables, StoreAdmin plus domain services on one gRPC
// server, its /metrics endpoint, and the corruption reporter. Used by every
// store's main() and, in-process, by tests.
class StoreProcess {
 public:
  static constexpr absl::Duration kShutdownGrace = absl::Milliseconds(500);
  struct Options {
    // Overrides for tests; production uses the topology.
    leveldb::Env* env = nullptr;
    std::unique_ptr<maintenance::v1::Maintenance::StubInterface> maintenance_stub;
  };

  static absl::StatusOr<std::unique_ptr<StoreProcess>> Start(const config::Topology& topology,
                                                             const std::string& store_name,
                                                             const StoreDefinition& definition,
                                                             Options options);
  ~StoreProcess();

  int port() const { return server_->port(); }
  int metrics_port() const { return metrics_->port(); }
  const storage::TableSet& tables() const { return tables_; }
  const MaintenanceReporter& reporter() const { return *reporter_; }
  // Ends every waiting call and push stream (UNAVAILABLE: clients resume
  // once the store is back), then stops the server, giving calls in flight
  // kShutdownGrace to finish.
  void Shutdown();
  // Shutdown, then closes the tables (checkpointing their counts; corrupted
  // ones are abandoned to the OS) and stops the corruption reporter; the
  // metrics endpoint stays up without table series. For process exit only.
  void Close();

 private:
  class CountingListener;
  StoreProcess() = default;

  config::Topology topology_;
  std::unique_ptr<auth::Authorizer> authorizer_;
  std::unique_ptr<metrics::MetricsServer> metrics_;
  std::unique_ptr<MaintenanceReporter> reporter_;
  std::unique_ptr<CountingListener> listener_;
  storage::TableSet tables_;
  std::shared_ptr<storage::TableMetrics> table_metrics_;
  std::vector<std::unique_ptr<grpc::Service>> services_;
  // Owned by the services.
  std::vector<server::WaitRoom*> rooms_;
  // Runs the services' blocking calls; goes after the server (which waits
  // for those calls) and before the services.
  std::unique_ptr<server::CallPool> calls_;
  std::unique_ptr<server::GrpcServer> server_;
};

// main() of a store process: flags --config (env AGENTCOM_CONFIG) and
// --store (env AGENTCOM_STORE, default definition.kind); runs until SIGTERM
// or SIGINT. Returns the process exit code.
int RunStoreMain(int argc, char** argv, const StoreDefinition& definition);

}  // namespace agentcom::store_admin

#endif  // AGENTCOM_SERVICES_STORE_ADMIN_STORE_PROCESS_H_
