#include "services/store_admin/store_admin_service.h"

#include "absl/time/clock.h"
#include "common/logging/log.h"
#include "common/server/handler.h"

namespace agentcom::store_admin {
namespace {

using auth::Role;
using server::Handle;

double SecondsSince(absl::Time start) { return absl::ToDoubleSeconds(absl::Now() - start); }

}  // namespace

grpc::Status StoreAdminService::ListTables(grpc::ServerContext* context,
                                           const v1::ListTablesRequest*,
                                           v1::ListTablesResponse* response) {
  return Handle(authorizer_, context, Role::kAdmin, [&] {
    for (storage::Table* t : tables_.All()) *response->add_tables() = t->Stats();
    return absl::OkStatus();
  });
}

grpc::Status StoreAdminService::GetTableStats(grpc::ServerContext* context,
                                              const v1::GetTableStatsRequest* request,
                                              common::v1::TableStats* response) {
  return Handle(authorizer_, context, Role::kAdmin, [&]() -> absl::Status {
    absl::StatusOr<storage::Table*> table = tables_.Find(request->table());
    if (!table.ok()) return table.status();
    *response = (*table)->Stats();
    return absl::OkStatus();
  });
}

grpc::Status StoreAdminService::Compact(grpc::ServerContext* context,
                                        const v1::CompactRequest* request,
                                        v1::CompactResponse* response) {
  return Handle(authorizer_, context, Role::kAdmin, [&]() -> absl::Status {
    absl::StatusOr<storage::Table*> table = tables_.Find(request->table());
    if (!table.ok()) return table.status();
    const absl::Time start = absl::Now();
    *response->mutable_before() = (*table)->Stats();
    if (absl::Status s = (*table)->Compact(); !s.ok()) return s;
    *response->mutable_after() = (*table)->Stats();
    response->set_duration_seconds(SecondsSince(start));
    log::Info("table compacted", {{"table", request->table()},
                                  {"seconds", response->duration_seconds()},
                                  {"disk_bytes_before", response->before().disk_bytes()},
                                  {"disk_bytes_after", response->after().disk_bytes()}});
    return absl::OkStatus();
  });
}

grpc::Status StoreAdminService::Snapshot(grpc::ServerContext* context,
                                         const v1::SnapshotRequest* request,
                                         v1::SnapshotResponse* response) {
  return Handle(authorizer_, context, Role::kAdmin, [&]() -> absl::Status {
    absl::StatusOr<storage::Table*> table = tables_.Find(request->table());
    if (!table.ok()) return table.status();
    const absl::Time start = absl::Now();
    absl::StatusOr<common::v1::BackupManifest> manifest = (*table)->Snapshot(backup_root_);
    if (!manifest.ok()) return manifest.status();
    uint64_t size = 0;
    for (const auto& f : manifest->files()) size += f.size_bytes();
    *response->mutable_manifest() = *std::move(manifest);
    response->set_size_bytes(size);
    response->set_duration_seconds(SecondsSince(start));
    log::Info("snapshot written", {{"table", request->table()},
                                   {"backup_id", response->manifest().backup_id()},
                                   {"records", response->manifest().record_count()},
                                   {"bytes", size}});
    return absl::OkStatus();
  });
}

grpc::Status StoreAdminService::Verify(grpc::ServerContext* context,
                                       const v1::VerifyRequest* request,
                                       v1::VerifyResponse* response) {
  return Handle(authorizer_, context, Role::kAdmin, [&]() -> absl::Status {
    absl::StatusOr<storage::Table*> table = tables_.Find(request->table());
    if (!table.ok()) return table.status();
    const absl::Time start = absl::Now();
    absl::StatusOr<storage::VerifyResult> result = (*table)->Verify();
    if (!result.ok()) return result.status();
    response->set_record_count(result->record_count);
    response->set_content_hash(result->content_hash);
    response->set_duration_seconds(SecondsSince(start));
    return absl::OkStatus();
  });
}

grpc::Status StoreAdminService::Reopen(grpc::ServerContext* context,
                                       const v1::ReopenRequest* request,
                                       v1::ReopenResponse* response) {
  return Handle(authorizer_, context, Role::kAdmin, [&]() -> absl::Status {
    absl::StatusOr<storage::Table*> table = tables_.Find(request->table());
    if (!table.ok()) return table.status();
    if (absl::Status s = (*table)->Reopen(request->repair()); !s.ok()) return s;
    *response->mutable_stats() = (*table)->Stats();
    return absl::OkStatus();
  });
}

grpc::Status StoreAdminService::FinishRestore(grpc::ServerContext* context,
                                              const v1::FinishRestoreRequest* request,
                                              v1::FinishRestoreResponse* response) {
  return Handle(authorizer_, context, Role::kAdmin, [&]() -> absl::Status {
    absl::StatusOr<storage::Table*> table = tables_.Find(request->table());
    if (!table.ok()) return table.status();
    const absl::Time start = absl::Now();
    storage::RestoreExpectation expected{.content_hash = request->content_hash()};
    if (request->has_record_count()) expected.record_count = request->record_count();
    if (request->has_records_at_corruption()) {
      expected.records_at_corruption = request->records_at_corruption();
    }
    absl::StatusOr<storage::VerifyResult> verified = (*table)->FinishRestore(expected);
    if (!verified.ok()) return verified.status();
    response->mutable_verified()->set_record_count(verified->record_count);
    response->mutable_verified()->set_content_hash(verified->content_hash);
    response->mutable_verified()->set_duration_seconds(SecondsSince(start));
    for (const auto& hook : after_restore_) {
      // The table serves; what a hook could not finish is retried at the
      // store's next start.
      if (absl::Status s = hook(); !s.ok()) {
        log::Warn("after-restore step failed",
                  {{"table", request->table()}, {"error", std::string(s.message())}});
      }
    }
    *response->mutable_stats() = (*table)->Stats();
    return absl::OkStatus();
  });
}

}  // namespace agentcom::store_admin
