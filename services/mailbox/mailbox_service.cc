#include "services/mailbox/mailbox_service.h"

#include "common/server/handler.h"

namespace agentcom::mailbox {

using auth::Role;
using server::Respond;
using server::Handle;

grpc::Status MailboxService::Enqueue(grpc::ServerContext* context,
                                     const v1::EnqueueRequest* request,
                                     v1::EnqueueResponse* response) {
  return Handle(authorizer_, context, Role::kAgent,
                [&] { return Respond(mailbox_.Enqueue(*request), response); });
}

grpc::Status MailboxService::Poll(grpc::ServerContext* context,
                                  const v1::PollRequest* request,
                                  v1::PollResponse* response) {
  return Handle(authorizer_, context, Role::kAgent,
                [&] { return Respond(mailbox_.Poll(*request), response); });
}

grpc::Status MailboxService::Ack(grpc::ServerContext* context,
                                 const v1::AckRequest* request,
                                 v1::AckResponse* response) {
  return Handle(authorizer_, context, Role::kAgent,
                [&] { return Respond(mailbox_.Ack(*request), response); });
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
        services.push_back(std::make_unique<MailboxService>(ctx.authorizer, *table,
                                                            ctx.topology.limits()));
        return services;
      },
  };
}

}  // namespace agentcom::mailbox
