#ifndef AGENTCOM_SERVICES_THREADS_THREADS_SERVICE_H_
#define AGENTCOM_SERVICES_THREADS_THREADS_SERVICE_H_

#include <memory>

#include "agentcom/threads/v1/threads.grpc.pb.h"
#include "common/auth/authorizer.h"
#include "services/store_admin/store_process.h"
#include "services/threads/threads.h"

namespace agentcom::threads {

// gRPC adapter over Threads; agent role. Thread-safe.
class ThreadsService final : public v1::Threads::Service {
 public:
  ThreadsService(const auth::Authorizer& authorizer, std::unique_ptr<Threads> threads)
      : authorizer_(authorizer), threads_(std::move(threads)) {}

  grpc::Status Index(grpc::ServerContext* c, const v1::IndexRequest* r,
                     v1::IndexResponse* out) override;
  grpc::Status GetThread(grpc::ServerContext* c, const v1::GetThreadRequest* r,
                         v1::GetThreadResponse* out) override;
  grpc::Status GetReplies(grpc::ServerContext* c, const v1::GetRepliesRequest* r,
                          v1::GetRepliesResponse* out) override;

 private:
  const auth::Authorizer& authorizer_;
  std::unique_ptr<Threads> threads_;
};

// The threads store process: tables thread_messages and thread_replies.
store_admin::StoreDefinition ThreadsStoreDefinition();

}  // namespace agentcom::threads

#endif  // AGENTCOM_SERVICES_THREADS_THREADS_SERVICE_H_
