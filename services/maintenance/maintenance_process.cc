#include "services/maintenance/maintenance_process.h"

#include "common/auth/tokens.h"
#include "common/logging/log.h"
#include "common/server/process_main.h"
#include "services/maintenance/supervisord_client.h"

namespace agentcom::maintenance {

absl::StatusOr<std::unique_ptr<MaintenanceProcess>> MaintenanceProcess::Create(Options options) {
  auto p = std::unique_ptr<MaintenanceProcess>(new MaintenanceProcess());
  p->topology_ = options.topology;
  const config::Topology& topology = p->topology_;
  auto authorizer = auth::Authorizer::FromFiles(topology.tokens().agent_token_file(),
                                                topology.tokens().admin_token_file());
  if (!authorizer.ok()) return authorizer.status();
  p->authorizer_ = *std::move(authorizer);
  auto admin_token = auth::ReadToken(topology.tokens().admin_token_file());
  if (!admin_token.ok()) return admin_token.status();
  auto metrics = metrics::MetricsServer::Start(topology.maintenance().metrics_address());
  if (!metrics.ok()) return metrics.status();
  p->metrics_ = *std::move(metrics);

  ProcessSupervisor* supervisor = options.supervisor;
  if (supervisor == nullptr) {
    auto password = auth::LoadOrCreateToken(topology.supervisor().password_file());
    if (!password.ok()) return password.status();
    p->own_supervisor_ = std::make_unique<SupervisordClient>(topology.supervisor().address(),
                                                             topology.supervisor().username(),
                                                             *password, options.clock);
    supervisor = p->own_supervisor_.get();
  }
  StoreClient* stores = options.stores;
  if (stores == nullptr) {
    p->own_stores_ = NewGrpcStoreClient(topology, *admin_token);
    stores = p->own_stores_.get();
  }

  if (topology.maintenance().has_remote_backup()) {
    // A destination that cannot even be set up (credentials file missing or
    // readable by others) is a configuration error: refuse to start, loudly.
    auto destination = remote::OpenDestination(topology.maintenance().remote_backup());
    if (!destination.ok()) return destination.status();
    p->remote_ = *std::move(destination);
    log::Info("backups are copied off this host", {{"destination", p->remote_->Describe()}});
  }

  p->events_ = std::make_unique<EventLog>(topology.state_dir() + "/events.jsonl", options.clock);
  if (auto s = p->events_->Load(); !s.ok()) return s;
  p->notifier_ = std::make_unique<WebhookNotifier>(std::vector<std::string>(
      topology.maintenance().webhook_urls().begin(), topology.maintenance().webhook_urls().end()));
  p->events_->OnEvent([n = p->notifier_.get()](const v1::Event& e) { n->Notify(e); });
  p->core_ = std::make_unique<MaintenanceCore>(
      MaintenanceCore::Options{.topology = topology,
                               .clock = options.clock,
                               .env = options.env,
                               .supervisor = supervisor,
                               .stores = stores,
                               .events = p->events_.get(),
                               .metrics = p->metrics_->registry().get(),
                               .remote = p->remote_.get()});
  p->service_ =
      std::make_unique<MaintenanceService>(*p->authorizer_, p->core_.get(), p->events_.get());
  auto server = server::GrpcServer::Start(
      {.address = topology.maintenance().address(), .metrics = p->metrics_->registry()},
      {p->service_.get()});
  if (!server.ok()) return server.status();
  p->server_ = *std::move(server);
  if (auto s = p->core_->Start(); !s.ok()) return s;
  if (options.schedule) {
    const auto& m = topology.maintenance();
    p->scheduler_ = std::make_unique<Scheduler>(
        p->core_.get(), options.clock, absl::Seconds(m.backup_interval_seconds()),
        absl::Seconds(m.compaction_interval_seconds()), absl::Seconds(m.first_run_delay_seconds()),
        absl::Seconds(m.scrub_interval_seconds()));
    p->scheduler_->Start(absl::Seconds(1));
  }
  return p;
}

MaintenanceProcess::~MaintenanceProcess() {
  Shutdown();
  scheduler_.reset();
  core_.reset();
}

void MaintenanceProcess::Shutdown() {
  if (server_) server_->Shutdown(absl::Seconds(5));
}

int RunMaintenanceMain(int argc, char** argv) {
  auto topology = server::BeginMain(argc, argv, [] { return "maintenance"; });
  if (!topology.ok()) return 2;
  auto process = MaintenanceProcess::Create({.topology = *topology});
  if (!process.ok()) {
    log::Error("cannot start", {{"error", std::string(process.status().message())}});
    return 1;
  }
  log::Info("serving", {{"address", topology->maintenance().address()},
                        {"port", (*process)->port()},
                        {"metrics", topology->maintenance().metrics_address()}});
  server::WaitForShutdownSignal();
  (*process)->Shutdown();
  log::Info("stopped");
  return 0;
}

}  // namespace agentcom::maintenance
