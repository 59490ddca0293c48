#include "services/task_queue/task_queue_service.h"

#include "common/server/handler.h"
#include "common/server/push_calls.h"

namespace agentcom::task_queue {

using auth::Role;

grpc::ServerUnaryReactor* TaskQueueService::Submit(grpc::CallbackServerContext* c,
                                                   const grpc::ByteBuffer* raw,
                                                   grpc::ByteBuffer* out) {
  return server::HandleAsync<v1::SubmitRequest, v1::SubmitResponse>(
      authorizer_, c, Role::kAgent, *raw, out,
      [this](const v1::SubmitRequest& r, server::Reply<v1::SubmitResponse> reply) {
        queue_->SubmitAsync(r, std::move(reply));
      });
}

grpc::ServerUnaryReactor* TaskQueueService::Assign(grpc::CallbackServerContext* c,
                                                   const grpc::ByteBuffer* raw,
                                                   grpc::ByteBuffer* out) {
  v1::AssignRequest r;
  absl::Status valid = server::ParseRequest(*raw, &r);
  if (valid.ok()) valid = queue_->CheckAssign(r);
  return server::WaitingCall<v1::Task>::Start(
      {authorizer_,
       c,
       Role::kAgent,
       valid,
       *room_,
       {r.types().begin(), r.types().end()},
       r.agent_id()},
      absl::StatusCode::kNotFound, absl::Now() + absl::Milliseconds(r.wait_ms()),
      [this, r](server::Reply<v1::Task> reply) { queue_->AssignAsync(r, std::move(reply)); }, out);
}

grpc::ServerUnaryReactor* TaskQueueService::Complete(grpc::CallbackServerContext* c,
                                                     const grpc::ByteBuffer* raw,
                                                     grpc::ByteBuffer* out) {
  return server::HandleAsync<v1::CompleteRequest, v1::Task>(
      authorizer_, c, Role::kAgent, *raw, out,
      [this](const v1::CompleteRequest& r, server::Reply<v1::Task> reply) {
        queue_->CompleteAsync(r, std::move(reply));
      });
}

grpc::ServerUnaryReactor* TaskQueueService::Fail(grpc::CallbackServerContext* c,
                                                 const grpc::ByteBuffer* raw,
                                                 grpc::ByteBuffer* out) {
  return server::HandleOnPool<v1::FailRequest, v1::Task>(
      calls_, authorizer_, c, Role::kAgent, *raw, out,
      [this](const v1::FailRequest& r) { return queue_->Fail(r); });
}

grpc::ServerUnaryReactor* TaskQueueService::Get(grpc::CallbackServerContext* c,
                                                const grpc::ByteBuffer* raw,
                                                grpc::ByteBuffer* out) {
  return server::HandleOnPool<v1::GetRequest, v1::Task>(
      calls_, authorizer_, c, Role::kAgent, *raw, out,
      [this](const v1::GetRequest& r) { return queue_->Get(r); });
}

grpc::ServerUnaryReactor* TaskQueueService::List(grpc::CallbackServerContext* c,
                                                 const grpc::ByteBuffer* raw,
                                                 grpc::ByteBuffer* out) {
  return server::HandleOnPool<v1::ListRequest, v1::ListResponse>(
      calls_, authorizer_, c, Role::kAgent, *raw, out,
      [this](const v1::ListRequest& r) { return queue_->List(r); });
}

grpc::ServerUnaryReactor* TaskQueueService::RetryDeadLetter(grpc::CallbackServerContext* c,
                                                            const grpc::ByteBuffer* raw,
                                                            grpc::ByteBuffer* out) {
  return server::HandleOnPool<v1::RetryDeadLetterRequest, v1::Task>(
      calls_, authorizer_, c, Role::kAgent, *raw, out,
      [this](const v1::RetryDeadLetterRequest& r) { return queue_->RetryDeadLetter(r); });
}

store_admin::StoreDefinition TaskQueueStoreDefinition() {
  return {
      .kind = "task_queue",
      .required_tables = {kQueueTable, kDeadLetterTable},
      .make_services = [](const store_admin::StoreContext& ctx)
          -> absl::StatusOr<std::vector<std::unique_ptr<grpc::Service>>> {
        absl::StatusOr<storage::Table*> queue = ctx.tables.Find(kQueueTable);
        if (!queue.ok()) return queue.status();
        absl::StatusOr<storage::Table*> dead = ctx.tables.Find(kDeadLetterTable);
        if (!dead.ok()) return dead.status();
        std::unique_ptr<server::WaitRoom> room = ctx.MakeWaitRoom("task_queue");
        auto core = std::make_unique<TaskQueue>(
            *queue, *dead, ctx.topology.limits(), Clock::Real(),
            [r = room.get()](const std::string& type) { r->NotifyOne(type); });
        // With a corrupted or restoring table the replay waits until the
        // restored table serves.
        if (absl::Status s = core->Recover(); !s.ok() && !absl::IsUnavailable(s)) return s;
        ctx.after_restore([c = core.get()] { return c->Recover(); });
        std::vector<std::unique_ptr<grpc::Service>> services;
        services.push_back(std::make_unique<TaskQueueService>(
            ctx.authorizer, std::move(room), std::move(core), absl::Seconds(1), *ctx.calls));
        return services;
      },
  };
}

}  // namespace agentcom::task_queue
