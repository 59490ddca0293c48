#ifndef AGENTCOM_SERVICES_MESSAGE_HISTORY_MESSAGE_HISTORY_SERVICE_H_
#define AGENTCOM_SERVICES_MESSAGE_HISTORY_MESSAGE_HISTORY_SERVICE_H_

#include "agentcom/message_history/v1/message_history.grpc.pb.h"
#include "common/auth/authorizer.h"
#include "services/message_history/message_history.h"
#include "services/store_admin/store_process.h"

namespace agentcom::message_history {

// gRPC adapter over MessageHistory; agent role. Thread-safe.
class MessageHistoryService final : public v1::MessageHistory::Service {
 public:
  MessageHistoryService(const auth::Authorizer& authorizer, storage::Table* table,
                        topology::v1::Limits limits)
      : authorizer_(authorizer), history_(table, std::move(limits), Clock::Real()) {}

  grpc::Status Store(grpc::ServerContext* c, const v1::StoreRequest* r,
                     v1::StoreResponse* out) override;
  grpc::Status Query(grpc::ServerContext* c, const v1::QueryRequest* r,
                     v1::QueryResponse* out) override;

 private:
  const auth::Authorizer& authorizer_;
  MessageHistory history_;
};

// The message_history store process: table message_history.
store_admin::StoreDefinition MessageHistoryStoreDefinition();

}  // namespace agentcom::message_history

#endif  // AGENTCOM_SERVICES_MESSAGE_HISTORY_MESSAGE_HISTORY_SERVICE_H_
