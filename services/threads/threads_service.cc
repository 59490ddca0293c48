#include "services/threads/threads_service.h"

#include "common/server/handler.h"

namespace agentcom::threads {

using auth::Role;
using server::Handle;
using server::Respond;

grpc::Status ThreadsService::Index(grpc::ServerContext* c, const v1::IndexRequest* r,
                                   v1::IndexResponse* out) {
  return Handle(authorizer_, c, Role::kAgent, [&] { return Respond(threads_->Index(*r), out); });
}

grpc::Status ThreadsService::GetThread(grpc::ServerContext* c, const v1::GetThreadRequest* r,
                                       v1::GetThreadResponse* out) {
  return Handle(authorizer_, c, Role::kAgent,
                [&] { return Respond(threads_->GetThread(*r), out); });
}

grpc::Status ThreadsService::GetReplies(grpc::ServerContext* c, const v1::GetRepliesRequest* r,
                                        v1::GetRepliesResponse* out) {
  return Handle(authorizer_, c, Role::kAgent,
                [&] { return Respond(threads_->GetReplies(*r), out); });
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
        services.push_back(std::make_unique<ThreadsService>(ctx.authorizer, std::move(core)));
        return services;
      },
  };
}

}  // namespace agentcom::threads
