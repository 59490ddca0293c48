#include "services/message_history/message_history_service.h"

#include "common/server/handler.h"

namespace agentcom::message_history {

using auth::Role;
using server::Handle;
using server::Respond;

grpc::Status MessageHistoryService::Store(grpc::ServerContext* c, const v1::StoreRequest* r,
                                          v1::StoreResponse* out) {
  return Handle(authorizer_, c, Role::kAgent, [&] { return Respond(history_.Store(*r), out); });
}

grpc::Status MessageHistoryService::Query(grpc::ServerContext* c, const v1::QueryRequest* r,
                                          v1::QueryResponse* out) {
  return Handle(authorizer_, c, Role::kAgent, [&] { return Respond(history_.Query(*r), out); });
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
        services.push_back(
            std::make_unique<MessageHistoryService>(ctx.authorizer, *table, ctx.topology.limits()));
        return services;
      },
  };
}

}  // namespace agentcom::message_history
