#include "services/channels/channels_service.h"

#include "common/server/handler.h"
#include "common/server/push_calls.h"

namespace agentcom::channels {

using auth::Role;

grpc::ServerUnaryReactor* ChannelsService::Subscribe(grpc::CallbackServerContext* c,
                                                     const grpc::ByteBuffer* raw,
                                                     grpc::ByteBuffer* out) {
  return server::HandleOnPool<v1::SubscribeRequest, v1::SubscribeResponse>(
      calls_, authorizer_, c, Role::kAgent, *raw, out,
      [this](const v1::SubscribeRequest& r) { return channels_.Subscribe(r); });
}

grpc::ServerUnaryReactor* ChannelsService::Unsubscribe(grpc::CallbackServerContext* c,
                                                       const grpc::ByteBuffer* raw,
                                                       grpc::ByteBuffer* out) {
  return server::HandleOnPool<v1::UnsubscribeRequest, v1::UnsubscribeResponse>(
      calls_, authorizer_, c, Role::kAgent, *raw, out,
      [this](const v1::UnsubscribeRequest& r) { return channels_.Unsubscribe(r); });
}

grpc::ServerUnaryReactor* ChannelsService::ListSubscribers(grpc::CallbackServerContext* c,
                                                           const grpc::ByteBuffer* raw,
                                                           grpc::ByteBuffer* out) {
  return server::HandleOnPool<v1::ListSubscribersRequest, v1::ListSubscribersResponse>(
      calls_, authorizer_, c, Role::kAgent, *raw, out,
      [this](const v1::ListSubscribersRequest& r) { return channels_.ListSubscribers(r); });
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

grpc::ServerUnaryReactor* ChannelsService::History(grpc::CallbackServerContext* c,
                                                   const grpc::ByteBuffer* raw,
                                                   grpc::ByteBuffer* out) {
  return server::HandleOnPool<v1::HistoryRequest, v1::HistoryResponse>(
      calls_, authorizer_, c, Role::kAgent, *raw, out,
      [this](const v1::HistoryRequest& r) { return channels_.History(r); });
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
            ctx.authorizer, *subs, *history, ctx.topology.limits(), ctx.MakeWaitRoom("channels"),
            *ctx.calls));
        return services;
      },
  };
}

}  // namespace agentcom::channels
