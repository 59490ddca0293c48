#include "services/config/config_service.h"

#include "common/server/handler.h"

namespace agentcom::config_store {

using auth::Role;
using server::Handle;
using server::Respond;

grpc::Status ConfigService::Get(grpc::ServerContext* context, const v1::GetRequest* request,
                                v1::Entry* response) {
  return Handle(authorizer_, context, Role::kAgent,
                [&] { return Respond(store_.Get(*request), response); });
}

grpc::ServerUnaryReactor* ConfigService::Put(grpc::CallbackServerContext* context,
                                             const grpc::ByteBuffer* request,
                                             grpc::ByteBuffer* response) {
  return server::HandleAsync<v1::PutRequest, v1::Entry>(
      authorizer_, context, Role::kAgent, *request, response,
      [this](const v1::PutRequest& r, server::Reply<v1::Entry> reply) {
        store_.PutAsync(r, std::move(reply));
      });
}

grpc::Status ConfigService::Delete(grpc::ServerContext* context, const v1::DeleteRequest* request,
                                   v1::DeleteResponse*) {
  return Handle(authorizer_, context, Role::kAgent, [&] { return store_.Delete(*request); });
}

grpc::Status ConfigService::List(grpc::ServerContext* context, const v1::ListRequest* request,
                                 v1::ListResponse* response) {
  return Handle(authorizer_, context, Role::kAgent,
                [&] { return Respond(store_.List(*request), response); });
}

store_admin::StoreDefinition ConfigStoreDefinition() {
  return {
      .kind = "config",
      .required_tables = {kConfigTable},
      .make_services = [](const store_admin::StoreContext& ctx)
          -> absl::StatusOr<std::vector<std::unique_ptr<grpc::Service>>> {
        absl::StatusOr<storage::Table*> table = ctx.tables.Find(kConfigTable);
        if (!table.ok()) return table.status();
        std::vector<std::unique_ptr<grpc::Service>> services;
        services.push_back(
            std::make_unique<ConfigService>(ctx.authorizer, *table, ctx.topology.limits()));
        return services;
      },
  };
}

}  // namespace agentcom::config_store
