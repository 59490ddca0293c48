#include "services/maintenance/maintenance_service.h"

#include "common/server/api_checks.h"
#include "common/server/handler.h"

namespace agentcom::maintenance {

using auth::Role;
using server::Handle;
using server::Respond;

grpc::Status MaintenanceService::ReportCorruption(grpc::ServerContext* c,
                                                  const v1::ReportCorruptionRequest* r,
                                                  v1::ReportCorruptionResponse* out) {
  return Handle(authorizer_, c, Role::kAdmin, [&]() -> absl::Status {
    auto started = core_->ReportCorruption(
        r->table(), r->reason(),
        r->has_records() ? std::optional<uint64_t>(r->records()) : std::nullopt);
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

grpc::Status MaintenanceService::CompactAll(grpc::ServerContext* c, const v1::CompactAllRequest* r,
                                            v1::CompactionRun* out) {
  return Handle(authorizer_, c, Role::kAdmin, [&] {
    *out = core_->CompactAll(r->force(), v1::TRIGGER_MANUAL);
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
    *out = core_->BackupAll(v1::TRIGGER_MANUAL);
    return absl::OkStatus();
  });
}

grpc::Status MaintenanceService::BackupTable(grpc::ServerContext* c,
                                             const v1::BackupTableRequest* r, v1::BackupRun* out) {
  return Handle(authorizer_, c, Role::kAdmin,
                [&] { return Respond(core_->BackupTable(r->table(), v1::TRIGGER_MANUAL), out); });
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
    RestoreTarget target{.dry_run = r->dry_run()};
    if (r->has_target_time()) target.time = server::FromProtoTime(r->target_time());
    return Respond(core_->RestoreTable(r->table(), r->backup_id(), v1::TRIGGER_MANUAL, target),
                   out);
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

grpc::Status MaintenanceService::ListEvents(grpc::ServerContext* c, const v1::ListEventsRequest* r,
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

}  // namespace agentcom::maintenance
