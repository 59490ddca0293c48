#ifndef AGENTCOM_SERVICES_MESSAGE_HISTORY_MESSAGE_HISTORY_SERVICE_H_
#define AGENTCOM_SERVICES_MESSAGE_HISTORY_MESSAGE_HISTORY_SERVICE_H_

#include "agentcom/message_history/v1/message_history.grpc.pb.h"
#include "common/auth/authorizer.h"
#include "common/server/call_pool.h"
#include "common/server/handler.h"
#include "services/message_history/message_history.h"
#include "services/store_admin/store_process.h"

namespace agentcom::message_history {

// gRPC adapter over MessageHistory; agent role. Every call runs on gRPC's
// callback API, on the call pool. Thread-safe.
class MessageHistoryService final
    : public server::RawCallbackMethods<v1::MessageHistory::Service,
                                        v1::MessageHistory::WithRawCallbackMethod_Store,
                                        v1::MessageHistory::WithRawCallbackMethod_Query> {
 public:
  // `calls` must outlive the server.
  MessageHistoryService(const auth::Authorizer& authorizer, storage::Table* table,
                        topology::v1::Limits limits, server::CallPool& calls)
      : authorizer_(authorizer), history_(table, std::move(limits), Clock::Real()), calls_(calls) {}

  // On the call pool (HandleOnPool).

  grpc::ServerUnaryReactor* Store(grpc::CallbackServerContext* c, const grpc::ByteBuffer* raw,
                                  grpc::ByteBuffer* out) override;
  grpc::ServerUnaryReactor* Query(grpc::CallbackServerContext* c, const grpc::ByteBuffer* raw,
                                  grpc::ByteBuffer* out) override;

 private:
  const auth::Authorizer& authorizer_;
  MessageHistory history_;
  server::CallPool& calls_;
};

// The message_history store process: table message_history.
store_admin::StoreDefinition MessageHistoryStoreDefinition();

}  // namespace agentcom::message_history

#endif  // AGENTCOM_SERVICES_MESSAGE_HISTORY_MESSAGE_HISTORY_SERVICE_H_
