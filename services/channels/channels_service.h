#ifndef AGENTCOM_SERVICES_CHANNELS_CHANNELS_SERVICE_H_
#define AGENTCOM_SERVICES_CHANNELS_CHANNELS_SERVICE_H_

#include "agentcom/channels/v1/channels.grpc.pb.h"
#include "common/auth/authorizer.h"
#include "services/channels/channels.h"
#include "services/store_admin/store_process.h"

namespace agentcom::channels {

// gRPC adapter over Channels; agent role. Thread-safe.
class ChannelsService final : public v1::Channels::Service {
 public:
  ChannelsService(const auth::Authorizer& authorizer, storage::Table* subscriptions,
                  storage::Table* history, topology::v1::Limits limits)
      : authorizer_(authorizer),
        channels_(subscriptions, history, std::move(limits), Clock::Real()) {}

  grpc::Status Subscribe(grpc::ServerContext* c, const v1::SubscribeRequest* r,
                         v1::SubscribeResponse* out) override;
  grpc::Status Unsubscribe(grpc::ServerContext* c, const v1::UnsubscribeRequest* r,
                           v1::UnsubscribeResponse* out) override;
  grpc::Status ListSubscribers(grpc::ServerContext* c, const v1::ListSubscribersRequest* r,
                               v1::ListSubscribersResponse* out) override;
  grpc::Status Publish(grpc::ServerContext* c, const v1::PublishRequest* r,
                       v1::PublishResponse* out) override;
  grpc::Status History(grpc::ServerContext* c, const v1::HistoryRequest* r,
                       v1::HistoryResponse* out) override;

 private:
  const auth::Authorizer& authorizer_;
  Channels channels_;
};

// The channels store process: tables agent_channels and channel_history.
store_admin::StoreDefinition ChannelsStoreDefinition();

}  // namespace agentcom::channels

#endif  // AGENTCOM_SERVICES_CHANNELS_CHANNELS_SERVICE_H_
