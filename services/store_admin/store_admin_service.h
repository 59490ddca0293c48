#ifndef AGENTCOM_SERVICES_STORE_ADMIN_STORE_ADMIN_SERVICE_H_
#define AGENTCOM_SERVICES_STORE_ADMIN_STORE_ADMIN_SERVICE_H_

#include <functional>
#include <string>
#include <vector>

#include "agentcom/store_admin/v1/store_admin.grpc.pb.h"
#include "common/auth/authorizer.h"
#include "common/storage/table_set.h"

namespace agentcom::store_admin {

// gRPC adapter of StoreAdmin over the store's tables; admin role only.
// Thread-safe. Backups go to <backup_root>/<table>/<backup_id>/: callers name
// the table, never a path.
class StoreAdminService final : public v1::StoreAdmin::Service {
 public:
  StoreAdminService(const auth::Authorizer& authorizer, const storage::TableSet& tables,
                    std::string backup_root)
      : authorizer_(authorizer), tables_(tables), backup_root_(std::move(backup_root)) {}

  grpc::Status ListTables(grpc::ServerContext* context, const v1::ListTablesRequest* request,
                          v1::ListTablesResponse* response) override;
  grpc::Status GetTableStats(grpc::ServerContext* context, const v1::GetTableStatsRequest* request,
                             common::v1::TableStats* response) override;
  grpc::Status Compact(grpc::ServerContext* context, const v1::CompactRequest* request,
                       v1::CompactResponse* response) override;
  grpc::Status Snapshot(grpc::ServerContext* context, const v1::SnapshotRequest* request,
                        v1::SnapshotResponse* response) override;
  grpc::Status Verify(grpc::ServerContext* context, const v1::VerifyRequest* request,
                      v1::VerifyResponse* response) override;
  grpc::Status Reopen(grpc::ServerContext* context, const v1::ReopenRequest* request,
                      v1::ReopenResponse* response) override;
  grpc::Status FinishRestore(grpc::ServerContext* context, const v1::FinishRestoreRequest* request,
                             v1::FinishRestoreResponse* response) override;

  // Run after a restored table starts serving (in the order added), e.g. to
  // finish cross-table changes that could not be completed at start-up
  // while the table was RESTORING. Add them before the server starts.
  void AfterRestore(std::function<absl::Status()> hook) {
    after_restore_.push_back(std::move(hook));
  }

 private:
  const auth::Authorizer& authorizer_;
  const storage::TableSet& tables_;
  const std::string backup_root_;
  std::vector<std::function<absl::Status()>> after_restore_;
};

}  // namespace agentcom::store_admin

#endif  // AGENTCOM_SERVICES_STORE_ADMIN_STORE_ADMIN_SERVICE_H_
