#ifndef AGENTCOM_COMMON_SERVER_HANDLER_H_
#define AGENTCOM_COMMON_SERVER_HANDLER_H_

#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/server_context.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/server_callback.h>

#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/auth/authorizer.h"
#include "common/server/call_pool.h"
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

// The callback-API calls (push calls, HandleAsync) are registered as raw
// methods (requests and responses as bytes) because gRPC 1.51 answers a request it cannot parse
// for a typed callback method with UNIMPLEMENTED, which would send a client
// looking for a missing method. Parsing here answers INVALID_ARGUMENT
// naming the message instead.
template <typename Request>
absl::Status ParseRequest(const grpc::ByteBuffer& raw, Request* out) {
  grpc::ByteBuffer copy(raw);  // Deserialize consumes its buffer
  if (!grpc::SerializationTraits<Request>::Deserialize(&copy, out).ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the request is not a valid ", Request::descriptor()->full_name()));
  }
  return absl::OkStatus();
}

template <typename Message>
grpc::ByteBuffer SerializeMessage(const Message& message) {
  grpc::ByteBuffer out;
  bool own_buffer = false;
  (void)grpc::SerializationTraits<Message>::Serialize(message, &out, &own_buffer);
  return out;
}

// The body of a unary handler on gRPC's callback API whose core call answers
// through a server::Reply (a write that commits without waiting): authorise
// the caller for `role`, parse the request, start `call(request, reply)`
// and return; the call finishes when the core answers, usually on the
// table's commit thread, so no gRPC thread waits for a disk sync. One line
// per RPC, like Handle, and the same single status conversion.
template <typename Request, typename Response, typename Call>
grpc::ServerUnaryReactor* HandleAsync(const auth::Authorizer& authorizer,
                                      grpc::CallbackServerContext* context, auth::Role role,
                                      const grpc::ByteBuffer& raw, grpc::ByteBuffer* response,
                                      Call&& call) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  Request request;
  absl::Status s = authorizer.Check(*context, role);
  if (s.ok()) s = ParseRequest(raw, &request);
  if (!s.ok()) {
    reactor->Finish(ToGrpcStatus(s));
    return reactor;
  }
  std::forward<Call>(call)(request, [reactor, response](absl::StatusOr<Response> result) {
    if (result.ok()) *response = SerializeMessage(*result);
    reactor->Finish(ToGrpcStatus(result.status()));
  });
  return reactor;
}

// The body of a unary handler on gRPC's callback API whose core call may
// block on its table: a read, or a write that waits for its sync. The call
// moves to `pool` (gRPC's callback threads never block), which authorises
// the caller for `role`, parses the request, runs `fn(request)` (returning
// absl::StatusOr<Response>, or absl::Status for an empty Response) and
// finishes. One line per RPC, like Handle, and the same single status
// conversion.
template <typename Request, typename Response, typename Fn>
grpc::ServerUnaryReactor* HandleOnPool(CallPool& pool, const auth::Authorizer& authorizer,
                                       grpc::CallbackServerContext* context, auth::Role role,
                                       const grpc::ByteBuffer& raw, grpc::ByteBuffer* response,
                                       Fn fn) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  pool.Run([&authorizer, context, role, &raw, response, reactor, fn = std::move(fn)] {
    Request request;
    absl::Status s = authorizer.Check(*context, role);
    if (s.ok()) s = ParseRequest(raw, &request);
    if (s.ok()) {
      if constexpr (std::is_same_v<decltype(fn(request)), absl::Status>) {
        s = fn(request);
        if (s.ok()) *response = SerializeMessage(Response());
      } else {
        absl::StatusOr<Response> result = fn(request);
        if (result.ok()) *response = SerializeMessage(*result);
        s = result.status();
      }
    }
    reactor->Finish(ToGrpcStatus(s));
  });
  return reactor;
}

// A generated service with the given methods on the raw callback API:
// RawCallbackMethods<v1::Config::Service, v1::Config::WithRawCallbackMethod_Get, ...>
// is WithRawCallbackMethod_Get<...<v1::Config::Service>>, which keeps a
// service's base class readable when most of its methods are converted.
template <typename Service, template <typename> class... Methods>
struct RawCallbackMethodsOf {
  using type = Service;
};
template <typename Service, template <typename> class First, template <typename> class... Rest>
struct RawCallbackMethodsOf<Service, First, Rest...> {
  using type = First<typename RawCallbackMethodsOf<Service, Rest...>::type>;
};
template <typename Service, template <typename> class... Methods>
using RawCallbackMethods = typename RawCallbackMethodsOf<Service, Methods...>::type;

}  // namespace agentcom::server

#endif  // AGENTCOM_COMMON_SERVER_HANDLER_H_
