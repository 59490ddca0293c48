#include "services/channels/channels_service.h"

#include "common/server/handler.h"
#include "common/server/push_calls.h"

namespace agentcom::channels {

using auth::Role;
using server::Handle;
using server::Respond;

grpc::Status ChannelsService::Subscribe(grpc::ServerContext* c, const v1::SubscribeRequest* r,
                                        v1::SubscribeResponse* out) {
  return Handle(authorizer_, c, Role::kAgent,
                [&] { return Respond(channels_.Subscribe(*r), out); });
}

grpc::Status ChannelsService::Unsubscribe(grpc::ServerContext* c, const v1::UnsubscribeRequest* r,
                                          v1::UnsubscribeResponse* out) {
  return Handle(authorizer_, c, Role::kAgent,
                [&] { return Respond(channels_.Unsubscribe(*r), out); });
}

grpc::Status ChannelsService::ListSubscribers(grpc::ServerContext* c,
                                              const v1::ListSubscribersRequest* r,
                                              v1::ListSubscribersResponse* out) {
  return Handle(authorizer_, c, Role::kAgent,
                [&] { return Respond(channels_.ListSubscribers(*r), out); });
}

grpc::ServerUnaryReactor* ChannelsService::Publish(grpc::CallbackServerContext* c,
                                                   const grpc::ByteBuffer* raw,
                                                   grpc::ByteBuffer* out) {
  return server::HandleAsync<v1::PublishRequest, v1::PublishResponse>(
      authorizer_, c, Role::kAgent, *raw, out,
      [this](const v1::PublishRequest& r, server::Reply<v1::PublishResponse> reply) {
        channels_.PublishAsync(r, server::NotifyOnSuccess(*room_, r.channel(), std::move(reply)));
      });
}

grpc::Status ChannelsService::History(grpc::ServerContext* c, const v1::HistoryRequest* r,
                                      v1::HistoryResponse* out) {
  return Handle(authorizer_, c, Role::kAgent, [&] { return Respond(channels_.History(*r), out); });
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* ChannelsService::Watch(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* raw) {
  v1::WatchRequest request;
  absl::Status valid = server::ParseRequest(*raw, &request);
  if (valid.ok()) valid = channels_.CheckChannel(request.channel());
  v1::HistoryRequest next;
  next.set_channel(request.channel());
  next.set_after_seq(request.after_seq());
  return server::PushStream<v1::WatchResponse>::Start(
      {authorizer_, context, Role::kAgent, valid, *room_, {request.channel()}, request.channel()},
      server::PagedFetch<v1::WatchResponse>(
          next, [this](const v1::HistoryRequest& r) { return channels_.History(r); }),
      [this] { return storage::ServingStatus(*history_); });
}

store_admin::StoreDefinition ChannelsStoreDefinition() {
  return {
      .kind = "channels",
      .required_tables = {kSubscriptionsTable, kHistoryTable},
      .make_services = [](const store_admin::StoreContext& ctx)
          -> absl::StatusOr<std::vector<std::unique_ptr<grpc::Service>>> {
        absl::StatusOr<storage::Table*> subs = ctx.tables.Find(kSubscriptionsTable);
        if (!subs.ok()) return subs.status();
        absl::StatusOr<storage::Table*> history = ctx.tables.Find(kHistoryTable);
        if (!history.ok()) return history.status();
        std::vector<std::unique_ptr<grpc::Service>> services;
        services.push_back(std::make_unique<ChannelsService>(
            ctx.authorizer, *subs, *history, ctx.topology.limits(), ctx.MakeWaitRoom("channels")));
        return services;
      },
  };
}

}  // namespace agentcom::channels
