#ifndef AGENTCOM_SERVICES_MAILBOX_MAILBOX_SERVICE_H_
#define AGENTCOM_SERVICES_MAILBOX_MAILBOX_SERVICE_H_

#include "agentcom/mailbox/v1/mailbox.grpc.pb.h"
#include "common/auth/authorizer.h"
#include "common/server/wait_room.h"
#include "services/mailbox/mailbox.h"
#include "services/store_admin/store_process.h"

namespace agentcom::mailbox {

// gRPC adapter over Mailbox; agent role. Watch runs on gRPC's callback
// API (an open stream costs no thread), the unary calls on the synchronous
// one. Thread-safe.
class MailboxService final : public v1::Mailbox::WithRawCallbackMethod_Enqueue<
                                 v1::Mailbox::WithRawCallbackMethod_Watch<v1::Mailbox::Service>> {
 public:
  // `room` is where Watch streams wait; it must outlive the server.
  MailboxService(const auth::Authorizer& authorizer, storage::Table* table,
                 topology::v1::Limits limits, std::unique_ptr<server::WaitRoom> room)
      : authorizer_(authorizer),
        table_(table),
        mailbox_(table, std::move(limits), Clock::Real()),
        room_(std::move(room)) {}

  // On the callback API: answered when the message commits (HandleAsync).
  grpc::ServerUnaryReactor* Enqueue(grpc::CallbackServerContext* context,
                                    const grpc::ByteBuffer* request,
                                    grpc::ByteBuffer* response) override;
  grpc::Status Poll(grpc::ServerContext* context, const v1::PollRequest* request,
                    v1::PollResponse* response) override;
  grpc::Status Ack(grpc::ServerContext* context, const v1::AckRequest* request,
                   v1::AckResponse* response) override;
  grpc::ServerWriteReactor<grpc::ByteBuffer>* Watch(grpc::CallbackServerContext* context,
                                                    const grpc::ByteBuffer* raw) override;

 private:
  const auth::Authorizer& authorizer_;
  storage::Table* const table_;
  Mailbox mailbox_;
  std::unique_ptr<server::WaitRoom> room_;
};

// The mailbox store process: table agent_mailbox, services Mailbox + StoreAdmin.
store_admin::StoreDefinition MailboxStoreDefinition();

}  // namespace agentcom::mailbox

#endif  // AGENTCOM_SERVICES_MAILBOX_MAILBOX_SERVICE_H_
