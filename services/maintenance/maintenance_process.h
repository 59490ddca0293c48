#ifndef AGENTCOM_SERVICES_MAINTENANCE_MAINTENANCE_PROCESS_H_
#define AGENTCOM_SERVICES_MAINTENANCE_MAINTENANCE_PROCESS_H_

#include <memory>

#include "absl/status/statusor.h"
#include "common/auth/authorizer.h"
#include "common/clock/clock.h"
#include "common/config/topology.h"
#include "common/metrics/metrics_server.h"
#include "common/remote/destination.h"
#include "common/server/grpc_server.h"
#include "services/maintenance/event_log.h"
#include "services/maintenance/maintenance.h"
#include "services/maintenance/maintenance_service.h"
#include "services/maintenance/notifier.h"
#include "services/maintenance/scheduler.h"
#include "services/maintenance/store_client.h"
#include "services/maintenance/supervisor.h"

namespace leveldb {
class Env;
}

namespace agentcom::maintenance {

// A running maintenance service: the core with its event log, webhooks and
// scheduler, the Maintenance gRPC API and the /metrics endpoint, all from
// the topology. Used by main() and, in-process, by tests. Thread-safe.
class MaintenanceProcess {
 public:
  struct Options {
    config::Topology topology;
    Clock* clock = Clock::Real();
    // nullptr: leveldb::Env::Default(). Not owned.
    leveldb::Env* env = nullptr;
    // Overrides for tests (not owned); production reaches supervisord and
    // the stores at the topology's addresses.
    ProcessSupervisor* supervisor = nullptr;
    StoreClient* stores = nullptr;
    // Run scheduled backups and compaction (tests call the core instead).
    bool schedule = true;
  };

  // Reads the tokens, starts the metrics endpoint and the gRPC server
  // (address from the topology; port 0 picks one), starts the core (which
  // resumes interrupted restores) and the scheduler. Errors: a token file
  // that cannot be read or created, an address that cannot be bound, an
  // unreadable event log.
  static absl::StatusOr<std::unique_ptr<MaintenanceProcess>> Create(Options options);
  // Shutdown, then stops the scheduler, the restore worker and the webhooks.
  ~MaintenanceProcess();

  int port() const { return server_->port(); }
  int metrics_port() const { return metrics_->port(); }
  MaintenanceCore& core() { return *core_; }
  EventLog& events() { return *events_; }
  // Stops serving gRPC (running calls get 5 s).
  void Shutdown();

 private:
  MaintenanceProcess() = default;

  config::Topology topology_;
  std::unique_ptr<auth::Authorizer> authorizer_;
  std::unique_ptr<metrics::MetricsServer> metrics_;
  std::unique_ptr<ProcessSupervisor> own_supervisor_;
  std::unique_ptr<StoreClient> own_stores_;
  std::unique_ptr<remote::Destination> remote_;
  std::unique_ptr<WebhookNotifier> notifier_;
  std::unique_ptr<EventLog> events_;
  std::unique_ptr<MaintenanceCore> core_;
  std::unique_ptr<MaintenanceService> service_;
  std::unique_ptr<server::GrpcServer> server_;
  std::unique_ptr<Scheduler> scheduler_;
};

// main() of the maintenance process: --config (env AGENTCOM_CONFIG); runs
// until SIGTERM or SIGINT. Returns the exit code.
int RunMaintenanceMain(int argc, char** argv);

}  // namespace agentcom::maintenance

#endif  // AGENTCOM_SERVICES_MAINTENANCE_MAINTENANCE_PROCESS_H_
