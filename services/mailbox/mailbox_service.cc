#include "services/mailbox/mailbox_service.h"

#include "common/server/handler.h"
#include "common/server/push_calls.h"

namespace agentcom::mailbox {

using auth::Role;

grpc::ServerUnaryReactor* MailboxService::Enqueue(grpc::CallbackServerContext* context,
                                                  const grpc::ByteBuffer* request,
                                                  grpc::ByteBuffer* response) {
  return server::HandleAsync<v1::EnqueueRequest, v1::EnqueueResponse>(
      authorizer_, context, Role::kAgent, *request, response,
      [this](const v1::EnqueueRequest& r, server::Reply<v1::EnqueueResponse> reply) {
        mailbox_.EnqueueAsync(r, server::NotifyOnSuccess(*room_, r.agent_id(), std::move(reply)));
      });
}

grpc::ServerUnaryReactor* MailboxService::Poll(grpc::CallbackServerContext* context,
                                               const grpc::ByteBuffer* request,
                                               grpc::ByteBuffer* response) {
  return server::HandleOnPool<v1::PollRequest, v1::PollResponse>(
      calls_, authorizer_, context, Role::kAgent, *request, response,
      [this](const v1::PollRequest& r) { return mailbox_.Poll(r); });
}

grpc::ServerUnaryReactor* MailboxService::Ack(grpc::CallbackServerContext* context,
                                              const grpc::ByteBuffer* request,
                                              grpc::ByteBuffer* response) {
  return server::HandleOnPool<v1::AckRequest, v1::AckResponse>(
      calls_, authorizer_, context, Role::kAgent, *request, response,
      [this](const v1::AckRequest& r) { return mailbox_.Ack(r); });
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* MailboxService::Watch(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* raw) {
  v1::WatchRequest request;
  absl::Status valid = server::ParseRequest(*raw, &request);
  if (valid.ok()) valid = mailbox_.CheckAgent(request.agent_id());
  v1::PollRequest next;
  next.set_agent_id(request.agent_id());
  next.set_after_seq(request.after_seq());
  return server::PushStream<v1::WatchResponse>::Start(
      {authorizer_, context, Role::kAgent, valid, *room_, {request.agent_id()}, request.agent_id()},
      server::PagedFetch<v1::WatchResponse>(
          next, [this](const v1::PollRequest& r) { return mailbox_.Poll(r); }),
      [this] { return storage::ServingStatus(*table_); });
}

store_admin::StoreDefinition MailboxStoreDefinition() {
  return {
      .kind = "mailbox",
      .required_tables = {kMailboxTable},
      .make_services = [](const store_admin::StoreContext& ctx)
          -> absl::StatusOr<std::vector<std::unique_ptr<grpc::Service>>> {
        absl::StatusOr<storage::Table*> table = ctx.tables.Find(kMailboxTable);
        if (!table.ok()) return table.status();
        std::vector<std::unique_ptr<grpc::Service>> services;
        services.push_back(
            std::make_unique<MailboxService>(ctx.authorizer, *table, ctx.topology.limits(),
                                             ctx.MakeWaitRoom("mailbox"), *ctx.calls));
        return services;
      },
  };
}

}  // namespace agentcom::mailbox
