#include "services/threads/threads_service.h"

#include "common/server/handler.h"

namespace agentcom::threads {

using auth::Role;

grpc::ServerUnaryReactor* ThreadsService::Index(grpc::CallbackServerContext* c,
                                                const grpc::ByteBuffer* raw,
                                                grpc::ByteBuffer* out) {
  return server::HandleOnPool<v1::IndexRequest, v1::IndexResponse>(
      calls_, authorizer_, c, Role::kAgent, *raw, out,
      [this](const v1::IndexRequest& r) { return threads_->Index(r); });
}

grpc::ServerUnaryReactor* ThreadsService::GetThread(grpc::CallbackServerContext* c,
                                                    const grpc::ByteBuffer* raw,
                                                    grpc::ByteBuffer* out) {
  return server::HandleOnPool<v1::GetThreadRequest, v1::GetThreadResponse>(
      calls_, authorizer_, c, Role::kAgent, *raw, out,
      [this](const v1::GetThreadRequest& r) { return threads_->GetThread(r); });
}

grpc::ServerUnaryReactor* ThreadsService::GetReplies(grpc::CallbackServerContext* c,
                                                     const grpc::ByteBuffer* raw,
                                                     grpc::ByteBuffer* out) {
  return server::HandleOnPool<v1::GetRepliesRequest, v1::GetRepliesResponse>(
      calls_, authorizer_, c, Role::kAgent, *raw, out,
      [this](const v1::GetRepliesRequest& r) { return threads_->GetReplies(r); });
}

store_admin::StoreDefinition ThreadsStoreDefinition() {
  return {
      .kind = "threads",
      .required_tables = {kMessagesTable, kRepliesTable},
      .make_services = [](const store_admin::StoreContext& ctx)
          -> absl::StatusOr<std::vector<std::unique_ptr<grpc::Service>>> {
        absl::StatusOr<storage::Table*> messages = ctx.tables.Find(kMessagesTable);
        if (!messages.ok()) return messages.status();
        absl::StatusOr<storage::Table*> replies = ctx.tables.Find(kRepliesTable);
        if (!replies.ok()) return replies.status();
        auto core =
            std::make_unique<Threads>(*messages, *replies, ctx.topology.limits(), Clock::Real());
        // With a corrupted or restoring table the replay waits until the
        // restored table serves.
        if (absl::Status s = core->Recover(); !s.ok() && !absl::IsUnavailable(s)) return s;
        ctx.after_restore([c = core.get()] { return c->Recover(); });
        std::vector<std::unique_ptr<grpc::Service>> services;
        services.push_back(
            std::make_unique<ThreadsService>(ctx.authorizer, std::move(core), *ctx.calls));
        return services;
      },
  };
}

}  // namespace agentcom::threads
