#include "services/message_history/message_history_service.h"

#include "common/server/handler.h"

namespace agentcom::message_history {

using auth::Role;

grpc::ServerUnaryReactor* MessageHistoryService::Store(grpc::CallbackServerContext* c,
                                                       const grpc::ByteBuffer* raw,
                                                       grpc::ByteBuffer* out) {
  return server::HandleOnPool<v1::StoreRequest, v1::StoreResponse>(
      calls_, authorizer_, c, Role::kAgent, *raw, out,
      [this](const v1::StoreRequest& r) { return history_.Store(r); });
}

grpc::ServerUnaryReactor* MessageHistoryService::Query(grpc::CallbackServerContext* c,
                                                       const grpc::ByteBuffer* raw,
                                                       grpc::ByteBuffer* out) {
  return server::HandleOnPool<v1::QueryRequest, v1::QueryResponse>(
      calls_, authorizer_, c, Role::kAgent, *raw, out,
      [this](const v1::QueryRequest& r) { return history_.Query(r); });
}

store_admin::StoreDefinition MessageHistoryStoreDefinition() {
  return {
      .kind = "message_history",
      .required_tables = {kHistoryTable},
      .make_services = [](const store_admin::StoreContext& ctx)
          -> absl::StatusOr<std::vector<std::unique_ptr<grpc::Service>>> {
        absl::StatusOr<storage::Table*> table = ctx.tables.Find(kHistoryTable);
        if (!table.ok()) return table.status();
        std::vector<std::unique_ptr<grpc::Service>> services;
        services.push_back(std::make_unique<MessageHistoryService>(
            ctx.authorizer, *table, ctx.topology.limits(), *ctx.calls));
        return services;
      },
  };
}

}  // namespace agentcom::message_history
