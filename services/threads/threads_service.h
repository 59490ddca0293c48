#ifndef AGENTCOM_SERVICES_THREADS_THREADS_SERVICE_H_
#define AGENTCOM_SERVICES_THREADS_THREADS_SERVICE_H_

#include <memory>

#include "agentcom/threads/v1/threads.grpc.pb.h"
#include "common/auth/authorizer.h"
#include "common/server/call_pool.h"
#include "common/server/handler.h"
#include "services/store_admin/store_process.h"
#include "services/threads/threads.h"

namespace agentcom::threads {

// gRPC adapter over Threads; agent role. Every call runs on gRPC's
// callback API, on the call pool. Thread-safe.
class ThreadsService final
    : public server::RawCallbackMethods<v1::Threads::Service,
                                        v1::Threads::WithRawCallbackMethod_Index,
                                        v1::Threads::WithRawCallbackMethod_GetThread,
                                        v1::Threads::WithRawCallbackMethod_GetReplies> {
 public:
  // `calls` must outlive the server.
  ThreadsService(const auth::Authorizer& authorizer, std::unique_ptr<Threads> threads,
                 server::CallPool& calls)
      : authorizer_(authorizer), threads_(std::move(threads)), calls_(calls) {}

  // On the call pool (HandleOnPool).

  grpc::ServerUnaryReactor* Index(grpc::CallbackServerContext* c, const grpc::ByteBuffer* raw,
                                  grpc::ByteBuffer* out) override;
  grpc::ServerUnaryReactor* GetThread(grpc::CallbackServerContext* c, const grpc::ByteBuffer* raw,
                                      grpc::ByteBuffer* out) override;
  grpc::ServerUnaryReactor* GetReplies(grpc::CallbackServerContext* c, const grpc::ByteBuffer* raw,
                                       grpc::ByteBuffer* out) override;

 private:
  const auth::Authorizer& authorizer_;
  std::unique_ptr<Threads> threads_;
  server::CallPool& calls_;
};

// The threads store process: tables thread_messages and thread_replies.
store_admin::StoreDefinition ThreadsStoreDefinition();

}  // namespace agentcom::threads

#endif  // AGENTCOM_SERVICES_THREADS_THREADS_SERVICE_H_
