#ifndef AGENTCOM_SERVICES_TASK_QUEUE_TASK_QUEUE_SERVICE_H_
#define AGENTCOM_SERVICES_TASK_QUEUE_TASK_QUEUE_SERVICE_H_

#include <memory>

#include "agentcom/task_queue/v1/task_queue.grpc.pb.h"
#include "common/auth/authorizer.h"
#include "common/server/call_pool.h"
#include "common/server/handler.h"
#include "common/server/wait_room.h"
#include "services/store_admin/store_process.h"
#include "services/task_queue/task_queue.h"

namespace agentcom::task_queue {

// gRPC adapter over TaskQueue; agent role. Owns the queue and its lease
// reaper. Assign runs on gRPC's callback API: a waiting Assign (wait_ms)
// costs no thread, and every attempt starts on the wait room's threads.
// Submit, Assign and Complete are answered when their write commits, and
// no thread waits for the sync. The other calls run on the call pool.
// Thread-safe.
class TaskQueueService final
    : public server::RawCallbackMethods<
          v1::TaskQueue::Service, v1::TaskQueue::WithRawCallbackMethod_Submit,
          v1::TaskQueue::WithRawCallbackMethod_Assign,
          v1::TaskQueue::WithRawCallbackMethod_Complete, v1::TaskQueue::WithRawCallbackMethod_Fail,
          v1::TaskQueue::WithRawCallbackMethod_Get, v1::TaskQueue::WithRawCallbackMethod_List,
          v1::TaskQueue::WithRawCallbackMethod_RetryDeadLetter> {
 public:
  // `room` is where waiting Assigns park; `queue` must tell it of queued
  // tasks (TaskQueue's on_queued calling room->NotifyOne(type): one queued
  // task wakes one waiting Assign, not all of them). `calls` must outlive
  // the server.
  TaskQueueService(const auth::Authorizer& authorizer, std::unique_ptr<server::WaitRoom> room,
                   std::unique_ptr<TaskQueue> queue, absl::Duration reap_interval,
                   server::CallPool& calls)
      : authorizer_(authorizer),
        room_(std::move(room)),
        queue_(std::move(queue)),
        calls_(calls),
        reaper_(queue_.get(), reap_interval) {}

  // On the callback API: answered when the task commits (HandleAsync).
  grpc::ServerUnaryReactor* Submit(grpc::CallbackServerContext* c, const grpc::ByteBuffer* raw,
                                   grpc::ByteBuffer* out) override;
  grpc::ServerUnaryReactor* Assign(grpc::CallbackServerContext* c, const grpc::ByteBuffer* raw,
                                   grpc::ByteBuffer* out) override;
  grpc::ServerUnaryReactor* Complete(grpc::CallbackServerContext* c, const grpc::ByteBuffer* raw,
                                     grpc::ByteBuffer* out) override;
  grpc::ServerUnaryReactor* Fail(grpc::CallbackServerContext* c, const grpc::ByteBuffer* raw,
                                 grpc::ByteBuffer* out) override;
  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* c, const grpc::ByteBuffer* raw,
                                grpc::ByteBuffer* out) override;
  grpc::ServerUnaryReactor* List(grpc::CallbackServerContext* c, const grpc::ByteBuffer* raw,
                                 grpc::ByteBuffer* out) override;
  grpc::ServerUnaryReactor* RetryDeadLetter(grpc::CallbackServerContext* c,
                                            const grpc::ByteBuffer* raw,
                                            grpc::ByteBuffer* out) override;

 private:
  const auth::Authorizer& authorizer_;
  std::unique_ptr<server::WaitRoom> room_;
  std::unique_ptr<TaskQueue> queue_;
  server::CallPool& calls_;
  LeaseReaper reaper_;
};

// The task_queue store process: tables task_queue and task_dead_letter,
// services TaskQueue + StoreAdmin.
store_admin::StoreDefinition TaskQueueStoreDefinition();

}  // namespace agentcom::task_queue

#endif  // AGENTCOM_SERVICES_TASK_QUEUE_TASK_QUEUE_SERVICE_H_
