#ifndef AGENTCOM_SERVICES_CHANNELS_CHANNELS_SERVICE_H_
#define AGENTCOM_SERVICES_CHANNELS_CHANNELS_SERVICE_H_

#include "agentcom/channels/v1/channels.grpc.pb.h"
#include "common/auth/authorizer.h"
#include "common/server/wait_room.h"
#include "services/channels/channels.h"
#include "services/store_admin/store_process.h"

namespace agentcom::channels {

// gRPC adapter over Channels; agent role. Watch runs on gRPC's callback
// API (an open stream costs no thread), the unary calls on the synchronous
// one. Thread-safe.
class ChannelsService final
    : public v1::Channels::WithRawCallbackMethod_Publish<
          v1::Channels::WithRawCallbackMethod_Watch<v1::Channels::Service>> {
 public:
  // `room` is where Watch streams wait; it must outlive the server.
  ChannelsService(const auth::Authorizer& authorizer, storage::Table* subscriptions,
                  storage::Table* history, topology::v1::Limits limits,
                  std::unique_ptr<server::WaitRoom> room)
      : authorizer_(authorizer),
        history_(history),
        channels_(subscriptions, history, std::move(limits), Clock::Real()),
        room_(std::move(room)) {}

  grpc::Status Subscribe(grpc::ServerContext* c, const v1::SubscribeRequest* r,
                         v1::SubscribeResponse* out) override;
  grpc::Status Unsubscribe(grpc::ServerContext* c, const v1::UnsubscribeRequest* r,
                           v1::UnsubscribeResponse* out) override;
  grpc::Status ListSubscribers(grpc::ServerContext* c, const v1::ListSubscribersRequest* r,
                               v1::ListSubscribersResponse* out) override;
  // On the callback API: answered when the message commits (HandleAsync).
  grpc::ServerUnaryReactor* Publish(grpc::CallbackServerContext* c, const grpc::ByteBuffer* raw,
                                    grpc::ByteBuffer* out) override;
  grpc::Status History(grpc::ServerContext* c, const v1::HistoryRequest* r,
                       v1::HistoryResponse* out) override;
  grpc::ServerWriteReactor<grpc::ByteBuffer>* Watch(grpc::CallbackServerContext* context,
                                                    const grpc::ByteBuffer* raw) override;

 private:
  const auth::Authorizer& authorizer_;
  storage::Table* const history_;
  Channels channels_;
  std::unique_ptr<server::WaitRoom> room_;
};

// The channels store process: tables agent_channels and channel_history.
store_admin::StoreDefinition ChannelsStoreDefinition();

}  // namespace agentcom::channels

#endif  // AGENTCOM_SERVICES_CHANNELS_CHANNELS_SERVICE_H_
