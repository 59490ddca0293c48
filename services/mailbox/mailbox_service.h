#ifndef AGENTCOM_SERVICES_MAILBOX_MAILBOX_SERVICE_H_
#define AGENTCOM_SERVICES_MAILBOX_MAILBOX_SERVICE_H_

#include "agentcom/mailbox/v1/mailbox.grpc.pb.h"
#include "common/auth/authorizer.h"
#include "services/mailbox/mailbox.h"
#include "services/store_admin/store_process.h"

namespace agentcom::mailbox {

// gRPC adapter over Mailbox; agent role. Thread-safe.
class MailboxService final : public v1::Mailbox::Service {
 public:
  MailboxService(const auth::Authorizer& authorizer, storage::Table* table,
                 topology::v1::Limits limits)
      : authorizer_(authorizer), mailbox_(table, std::move(limits), Clock::Real()) {}

  grpc::Status Enqueue(grpc::ServerContext* context, const v1::EnqueueRequest* request,
                       v1::EnqueueResponse* response) override;
  grpc::Status Poll(grpc::ServerContext* context, const v1::PollRequest* request,
                    v1::PollResponse* response) override;
  grpc::Status Ack(grpc::ServerContext* context, const v1::AckRequest* request,
                   v1::AckResponse* response) override;

 private:
  const auth::Authorizer& authorizer_;
  Mailbox mailbox_;
};

// The mailbox store process: table agent_mailbox, services Mailbox + StoreAdmin.
store_admin::StoreDefinition MailboxStoreDefinition();

}  // namespace agentcom::mailbox

#endif  // AGENTCOM_SERVICES_MAILBOX_MAILBOX_SERVICE_H_
