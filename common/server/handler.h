#ifndef AGENTCOM_COMMON_SERVER_HANDLER_H_
#define AGENTCOM_COMMON_SERVER_HANDLER_H_

#include <grpcpp/server_context.h>

#include <utility>

#include "absl/status/status.h"
#include "common/auth/authorizer.h"
#include "common/status/grpc_status.h"

namespace agentcom::server {

// The body of every gRPC handler: authorise the caller for `role`, run the
// core call (returning absl::Status), convert its status once. Keeps the
// service adapters to one line per RPC.
template <typename Fn>
grpc::Status Handle(const auth::Authorizer& authorizer, grpc::ServerContext* context,
                    auth::Role role, Fn&& fn) {
  if (absl::Status s = authorizer.Check(*context, role); !s.ok()) {
    return ToGrpcStatus(s);
  }
  return ToGrpcStatus(std::forward<Fn>(fn)());
}

// Moves a StatusOr's value into `*out`, returning its status.
template <typename T>
absl::Status Respond(absl::StatusOr<T> result, T* out) {
  if (!result.ok()) return result.status();
  *out = std::move(*result);
  return absl::OkStatus();
}

}  // namespace agentcom::server

#endif  // AGENTCOM_COMMON_SERVER_HANDLER_H_
