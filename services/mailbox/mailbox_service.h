#ifndef AGENTCOM_SERVICES_MAILBOX_MAILBOX_SERVICE_H_
#define AGENTCOM_SERVICES_MAILBOX_MAILBOX_SERVICE_H_

#include "agentcom/mailbox/v1/mailbox.grpc.pb.h"
#include "common/auth/authorizer.h"
#include "common/server/call_pool.h"
#include "common/server/handler.h"
#include "common/server/wait_room.h"
#include "services/mailbox/mailbox.h"
#include "services/store_admin/store_process.h"

namespace agentcom::mailbox {

// gRPC adapter over Mailbox; agent role. Every call runs on gRPC's
// callback API: Watch as a stream that costs no thread, Enqueue answered
// when its message commits, Poll and Ack on the call pool. Thread-safe.
class MailboxService final
    : public server::RawCallbackMethods<
          v1::Mailbox::Service, v1::Mailbox::WithRawCallbackMethod_Enqueue,
          v1::Mailbox::WithRawCallbackMethod_Poll, v1::Mailbox::WithRawCallbackMethod_Ack,
          v1::Mailbox::WithRawCallbackMethod_Watch> {
 public:
  // `room` is where Watch streams wait; it and `calls` must outlive the
  // server.
  MailboxService(const auth::Authorizer& authorizer, storage::Table* table,
                 topology::v1::Limits limits, std::unique_ptr<server::WaitRoom> room,
                 server::CallPool& calls)
      : authorizer_(authorizer),
        table_(table),
        mailbox_(table, std::move(limits), Clock::Real()),
        room_(std::move(room)),
        calls_(calls) {}

  // On the callback API: answered when the message commits (HandleAsync).
  grpc::ServerUnaryReactor* Enqueue(grpc::CallbackServerContext* context,
                                    const grpc::ByteBuffer* request,
                                    grpc::ByteBuffer* response) override;
  // On the call pool (HandleOnPool).
  grpc::ServerUnaryReactor* Poll(grpc::CallbackServerContext* context,
                                 const grpc::ByteBuffer* request,
                                 grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Ack(grpc::CallbackServerContext* context,
                                const grpc::ByteBuffer* request,
                                grpc::ByteBuffer* response) override;
  grpc::ServerWriteReactor<grpc::ByteBuffer>* Watch(grpc::CallbackServerContext* context,
                                                    const grpc::ByteBuffer* raw) override;

 private:
  const auth::Authorizer& authorizer_;
  storage::Table* const table_;
  Mailbox mailbox_;
  std::unique_ptr<server::WaitRoom> room_;
  server::CallPool& calls_;
};

// The mailbox store process: table agent_mailbox, services Mailbox + StoreAdmin.
store_admin::StoreDefinition MailboxStoreDefinition();

}  // namespace agentcom::mailbox

#endif  // AGENTCOM_SERVICES_MAILBOX_MAILBOX_SERVICE_H_
