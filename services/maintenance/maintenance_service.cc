#include "services/maintenance/maintenance_service.h"

#include <cstdlib>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "common/auth/tokens.h"
#include "common/logging/log.h"
#include "common/metrics/metrics_server.h"
#include "common/server/api_checks.h"
#include "common/server/grpc_server.h"
#include "common/server/handler.h"
#include "services/maintenance/notifier.h"
#include "services/maintenance/scheduler.h"
#include "services/maintenance/supervisord_client.h"

ABSL_FLAG(std::string, config, "", "Topology file (default: $AGENTCOM_CONFIG).");

namespace agentcom::maintenance {

using auth::Role;
using server::Handle;
using server::Respond;

grpc::Status MaintenanceService::ReportCorruption(grpc::ServerContext* c,
                                                  const v1::ReportCorruptionRequest* r,
                                                  v1::ReportCorruptionResponse* out) {
  return Handle(authorizer_, c, Role::kAdmin, [&]() -> absl::Status {
    auto started = core_->ReportCorruption(r->table(), r->reason());
    if (!started.ok()) return started.status();
    out->set_restore_started(*started);
    return absl::OkStatus();
  });
}

grpc::Status MaintenanceService::GetHealth(grpc::ServerContext* c, const v1::GetHealthRequest*,
                                           v1::GetHealthResponse* out) {
  return Handle(authorizer_, c, Role::kAdmin, [&] {
    *out = core_->GetHealth();
    return absl::OkStatus();
  });
}

grpc::Status MaintenanceService::CompactAll(grpc::ServerContext* c,
                                            const v1::CompactAllRequest* r,
                                            v1::CompactionRun* out) {
  return Handle(authorizer_, c, Role::kAdmin, [&] {
    *out = core_->CompactAll(r->force(), "manual");
    return absl::OkStatus();
  });
}

grpc::Status MaintenanceService::CompactTable(grpc::ServerContext* c,
                                              const v1::CompactTableRequest* r,
                                              v1::CompactionRun* out) {
  return Handle(authorizer_, c, Role::kAdmin,
                [&] { return Respond(core_->CompactTable(r->table()), out); });
}

grpc::Status MaintenanceService::BackupAll(grpc::ServerContext* c, const v1::BackupAllRequest*,
                                           v1::BackupRun* out) {
  return Handle(authorizer_, c, Role::kAdmin, [&] {
    *out = core_->BackupAll("manual");
    return absl::OkStatus();
  });
}

grpc::Status MaintenanceService::BackupTable(grpc::ServerContext* c,
                                             const v1::BackupTableRequest* r,
                                             v1::BackupRun* out) {
  return Handle(authorizer_, c, Role::kAdmin,
                [&] { return Respond(core_->BackupTable(r->table(), "manual"), out); });
}

grpc::Status MaintenanceService::ListBackups(grpc::ServerContext* c,
                                             const v1::ListBackupsRequest* r,
                                             v1::ListBackupsResponse* out) {
  return Handle(authorizer_, c, Role::kAdmin,
                [&] { return Respond(core_->ListBackups(r->table()), out); });
}

grpc::Status MaintenanceService::VerifyBackup(grpc::ServerContext* c,
                                              const v1::VerifyBackupRequest* r,
                                              v1::VerifyBackupResponse* out) {
  return Handle(authorizer_, c, Role::kAdmin,
                [&] { return Respond(core_->VerifyBackup(r->table(), r->backup_id()), out); });
}

grpc::Status MaintenanceService::RestoreTable(grpc::ServerContext* c,
                                              const v1::RestoreTableRequest* r,
                                              v1::RestoreResult* out) {
  return Handle(authorizer_, c, Role::kAdmin, [&] {
    return Respond(core_->RestoreTable(r->table(), r->backup_id(), "manual"), out);
  });
}

grpc::Status MaintenanceService::GetCompactionHistory(grpc::ServerContext* c,
                                                      const v1::GetCompactionHistoryRequest*,
                                                      v1::CompactionHistory* out) {
  return Handle(authorizer_, c, Role::kAdmin, [&] {
    *out = core_->CompactionHistory();
    return absl::OkStatus();
  });
}

grpc::Status MaintenanceService::ListEvents(grpc::ServerContext* c,
                                            const v1::ListEventsRequest* r,
                                            v1::ListEventsResponse* out) {
  return Handle(authorizer_, c, Role::kAdmin, [&]() -> absl::Status {
    absl::StatusOr<uint32_t> limit = server::PageSize("limit", r->limit(), 100, 1000);
    if (!limit.ok()) return limit.status();
    for (auto& e : events_->After(r->after_id(), *limit)) *out->add_events() = std::move(e);
    return absl::OkStatus();
  });
}

grpc::Status MaintenanceService::WatchEvents(grpc::ServerContext* c,
                                             const v1::WatchEventsRequest* r,
                                             grpc::ServerWriter<v1::Event>* writer) {
  return Handle(authorizer_, c, Role::kAdmin, [&]() -> absl::Status {
    uint64_t last = r->after_id();
    while (!c->IsCancelled()) {
      for (const auto& e : events_->After(last, 1000)) {
        if (!writer->Write(e)) return absl::OkStatus();  // the client went away
        last = e.id();
      }
      events_->WaitAfter(last, absl::Milliseconds(500));
    }
    return absl::OkStatus();
  });
}

int RunMaintenanceMain(int argc, char** argv) {
  server::BlockShutdownSignals();
  absl::ParseCommandLine(argc, argv);
  const std::string config_path =
      config::FlagOrEnv(absl::GetFlag(FLAGS_config), "AGENTCOM_CONFIG", "");
  log::Init("maintenance", "info");
  if (config_path.empty()) {
    log::Error("no topology file: pass --config or set AGENTCOM_CONFIG");
    return 2;
  }
  auto topology = config::LoadTopology(config_path);
  if (!topology.ok()) {
    log::Error("invalid topology", {{"error", std::string(topology.status().message())}});
    return 2;
  }
  log::Init("maintenance", topology->log_level());
  auto fail = [](const absl::Status& s) {
    log::Error("cannot start", {{"error", std::string(s.message())}});
    return 1;
  };
  auto authorizer = auth::Authorizer::FromFiles(topology->tokens().agent_token_file(),
                                                topology->tokens().admin_token_file());
  if (!authorizer.ok()) return fail(authorizer.status());
  auto admin_token = auth::ReadToken(topology->tokens().admin_token_file());
  if (!admin_token.ok()) return fail(admin_token.status());
  auto password = auth::LoadOrCreateToken(topology->supervisor().password_file());
  if (!password.ok()) return fail(password.status());
  auto metrics = metrics::MetricsServer::Start(topology->maintenance().metrics_address());
  if (!metrics.ok()) return fail(metrics.status());

  SupervisordClient supervisor(topology->supervisor().address(), topology->supervisor().username(),
                               *password);
  auto stores = NewGrpcStoreClient(*topology, *admin_token);
  EventLog events(topology->state_dir() + "/events.jsonl", Clock::Real());
  if (auto s = events.Load(); !s.ok()) return fail(s);
  WebhookNotifier notifier({topology->maintenance().webhook_urls().begin(),
                            topology->maintenance().webhook_urls().end()});
  events.OnEvent([&notifier](const v1::Event& e) { notifier.Notify(e); });
  MaintenanceCore core({.topology = *topology,
                        .clock = Clock::Real(),
                        .supervisor = &supervisor,
                        .stores = stores.get(),
                        .events = &events,
                        .metrics = (*metrics)->registry().get()});
  MaintenanceService service(**authorizer, &core, &events);
  auto grpc_server = server::GrpcServer::Start(
      {.address = topology->maintenance().address(), .metrics = (*metrics)->registry()},
      {&service});
  if (!grpc_server.ok()) return fail(grpc_server.status());
  if (auto s = core.Start(); !s.ok()) return fail(s);
  const auto& m = topology->maintenance();
  Scheduler scheduler(&core, Clock::Real(), absl::Seconds(m.backup_interval_seconds()),
                      absl::Seconds(m.compaction_interval_seconds()),
                      absl::Seconds(m.first_run_delay_seconds()));
  scheduler.Start(absl::Seconds(1));
  log::Info("serving", {{"address", topology->maintenance().address()},
                        {"metrics", topology->maintenance().metrics_address()}});
  server::WaitForShutdownSignal();
  (*grpc_server)->Shutdown(absl::Seconds(5));
  log::Info("stopped");
  return 0;
}

}  // namespace agentcom::maintenance
