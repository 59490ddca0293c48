#include "services/config/config_service.h"

#include "common/server/handler.h"

namespace agentcom::config_store {

using auth::Role;

grpc::ServerUnaryReactor* ConfigService::Get(grpc::CallbackServerContext* c,
                                             const grpc::ByteBuffer* raw, grpc::ByteBuffer* out) {
  return server::HandleOnPool<v1::GetRequest, v1::Entry>(
      calls_, authorizer_, c, Role::kAgent, *raw, out,
      [this](const v1::GetRequest& r) { return store_.Get(r); });
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

grpc::ServerUnaryReactor* ConfigService::Delete(grpc::CallbackServerContext* c,
                                                const grpc::ByteBuffer* raw,
                                                grpc::ByteBuffer* out) {
  return server::HandleOnPool<v1::DeleteRequest, v1::DeleteResponse>(
      calls_, authorizer_, c, Role::kAgent, *raw, out,
      [this](const v1::DeleteRequest& r) { return store_.Delete(r); });
}

grpc::ServerUnaryReactor* ConfigService::List(grpc::CallbackServerContext* c,
                                              const grpc::ByteBuffer* raw, grpc::ByteBuffer* out) {
  return server::HandleOnPool<v1::ListRequest, v1::ListResponse>(
      calls_, authorizer_, c, Role::kAgent, *raw, out,
      [this](const v1::ListRequest& r) { return store_.List(r); });
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
        services.push_back(std::make_unique<ConfigService>(ctx.authorizer, *table,
                                                           ctx.topology.limits(), *ctx.calls));
        return services;
      },
  };
}

}  // namespace agentcom::config_store
