#ifndef AGENTCOM_SERVICES_CHANNELS_CHANNELS_SERVICE_H_
#define AGENTCOM_SERVICES_CHANNELS_CHANNELS_SERVICE_H_

#include "agentcom/channels/v1/channels.grpc.pb.h"
#include "common/auth/authorizer.h"
#include "common/server/call_pool.h"
#include "common/server/handler.h"
#include "common/server/wait_room.h"
#include "services/channels/channels.h"
#include "services/store_admin/store_process.h"

namespace agentcom::channels {

// gRPC adapter over Channels; agent role. Every call runs on gRPC's
// callback API: Watch as a stream that costs no thread, Publish answered
// when its message commits, the others on the call pool. Thread-safe.
class ChannelsService final
    : public server::RawCallbackMethods<
          v1::Channels::Service, v1::Channels::WithRawCallbackMethod_Subscribe,
          v1::Channels::WithRawCallbackMethod_Unsubscribe,
          v1::Channels::WithRawCallbackMethod_ListSubscribers,
          v1::Channels::WithRawCallbackMethod_Publish, v1::Channels::WithRawCallbackMethod_History,
          v1::Channels::WithRawCallbackMethod_Watch> {
 public:
  // `room` is where Watch streams wait; it and `calls` must outlive the
  // server.
  ChannelsService(const auth::Authorizer& authorizer, storage::Table* subscriptions,
                  storage::Table* history, topology::v1::Limits limits,
                  std::unique_ptr<server::WaitRoom> room, server::CallPool& calls)
      : authorizer_(authorizer),
        history_(history),
        channels_(subscriptions, history, std::move(limits), Clock::Real()),
        room_(std::move(room)),
        calls_(calls) {}

  grpc::ServerUnaryReactor* Subscribe(grpc::CallbackServerContext* c, const grpc::ByteBuffer* raw,
                                      grpc::ByteBuffer* out) override;
  grpc::ServerUnaryReactor* Unsubscribe(grpc::CallbackServerContext* c, const grpc::ByteBuffer* raw,
                                        grpc::ByteBuffer* out) override;
  grpc::ServerUnaryReactor* ListSubscribers(grpc::CallbackServerContext* c,
                                            const grpc::ByteBuffer* raw,
                                            grpc::ByteBuffer* out) override;
  // On the callback API: answered when the message commits (HandleAsync).
  grpc::ServerUnaryReactor* Publish(grpc::CallbackServerContext* c, const grpc::ByteBuffer* raw,
                                    grpc::ByteBuffer* out) override;
  grpc::ServerUnaryReactor* History(grpc::CallbackServerContext* c, const grpc::ByteBuffer* raw,
                                    grpc::ByteBuffer* out) override;
  grpc::ServerWriteReactor<grpc::ByteBuffer>* Watch(grpc::CallbackServerContext* context,
                                                    const grpc::ByteBuffer* raw) override;

 private:
  const auth::Authorizer& authorizer_;
  storage::Table* const history_;
  Channels channels_;
  std::unique_ptr<server::WaitRoom> room_;
  server::CallPool& calls_;
};

// The channels store process: tables agent_channels and channel_history.
store_admin::StoreDefinition ChannelsStoreDefinition();

}  // namespace agentcom::channels

#endif  // AGENTCOM_SERVICES_CHANNELS_CHANNELS_SERVICE_H_
