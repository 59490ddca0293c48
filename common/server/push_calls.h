#ifndef AGENTCOM_COMMON_SERVER_PUSH_CALLS_H_
#define AGENTCOM_COMMON_SERVER_PUSH_CALLS_H_

#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/server_context.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/server_callback.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/auth/authorizer.h"
#include "common/server/handler.h"
#include "common/server/wait_room.h"
#include "common/status/grpc_status.h"

namespace agentcom::server {

// Why a push call ended, for agentcom_push_ended_total.
inline std::string EndReason(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kOk:
      return "ok";
    case absl::StatusCode::kCancelled:
      return "cancelled";
    case absl::StatusCode::kUnavailable:
      return "unavailable";
    case absl::StatusCode::kNotFound:
      return "wait_expired";
    case absl::StatusCode::kResourceExhausted:
      return "resource_exhausted";
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kInvalidArgument:
      return "refused";
    default:
      return "error";
  }
}

// Who may open a push call and where it waits.
struct Admission {
  const auth::Authorizer& authorizer;
  grpc::CallbackServerContext* context;
  auth::Role role;
  // The core's argument checks of the request.
  absl::Status valid;
  WaitRoom& room;
  // Notify keys that wake the call, and the owner its limit counts against.
  std::vector<std::string> keys;
  std::string owner;
};

// Checks the caller's role, then the request, then joins the room
// (RESOURCE_EXHAUSTED over its limits). Not OK: the call was not admitted
// and is to be finished with that status.
inline absl::Status Admit(Admission& a, std::shared_ptr<Waiter> waiter) {
  absl::Status s = a.authorizer.Check(*a.context, a.role);
  if (s.ok()) s = a.valid;
  if (s.ok()) s = a.room.Join(std::move(waiter), std::move(a.keys), std::move(a.owner));
  if (!s.ok()) a.room.CountEnded(EndReason(s));
  return s;
}

// A Fetch for PushStream over a paged read after request.after_seq()
// (Mailbox::Poll, Channels::History): the page's messages move into the
// response and the position moves past the last of them.
template <typename Response, typename PageRequest, typename Read>
std::function<absl::StatusOr<int>(Response*)> PagedFetch(PageRequest request, Read read) {
  return [request = std::move(request), read](Response* out) mutable -> absl::StatusOr<int> {
    auto page = read(request);
    if (!page.ok()) return page.status();
    if (page->messages().empty()) return 0;
    request.set_after_seq(page->messages(page->messages_size() - 1).seq());
    out->mutable_messages()->Swap(page->mutable_messages());
    return out->messages_size();
  };
}

// A server-streaming call that pushes what is committed (gRPC callback API,
// so an open stream costs no thread). Its first step replays what is stored
// after the client's position, then each Notify of one of its keys sends
// what was committed since. One page is in flight at a time and the next is
// read from the table only when the client has taken it, so a slow consumer
// holds one page of memory and never holds up writers or other streams; it
// simply reads further behind. Ends with the status of a failed read
// (UNAVAILABLE while the table is corrupted or restoring: the client
// resumes from the last seq it saw), or CANCELLED when the client goes.
template <typename Response>
class PushStream final : public grpc::ServerWriteReactor<grpc::ByteBuffer>, public Waiter {
 public:
  // Fills *out with the next page after the stream's position and moves the
  // position past it; returns how many records it holds (0: nothing new).
  // An error ends the stream with that status.
  using Fetch = std::function<absl::StatusOr<int>(Response* out)>;
  // OK while the records' table serves; otherwise the stream ends with it.
  using Check = std::function<absl::Status()>;

  // The reactor for a Watch handler: admitted (see Admit), it starts with
  // a replay of what is stored; refused, it ends at once.
  static grpc::ServerWriteReactor<grpc::ByteBuffer>* Start(Admission admission, Fetch fetch,
                                                           Check check) {
    auto stream = std::shared_ptr<PushStream>(
        new PushStream(admission.room, std::move(fetch), std::move(check)));
    stream->self_ = stream;
    if (absl::Status s = Admit(admission, stream); !s.ok()) stream->Finish(ToGrpcStatus(s));
    return stream.get();
  }

  Next Step(bool notified, absl::Time, absl::Time*) override {
    absl::Status s;
    if (room_.Cancelled(this)) {
      s = absl::CancelledError("the client went away");
    } else if (room_.Closed()) {
      s = WaitRoom::ShuttingDown();
    } else if (!notified) {
      s = check_();
      if (s.ok()) return Next::kPark;
    } else {
      Response page;
      absl::StatusOr<int> n = fetch_(&page);
      if (n.ok() && *n == 0) return Next::kPark;
      if (n.ok()) {
        room_.CountPushed(*n);
        bytes_ = SerializeMessage(page);
        StartWrite(&bytes_);
        return Next::kBusy;
      }
      s = n.status();
    }
    room_.CountEnded(EndReason(s));
    Finish(ToGrpcStatus(s));
    return Next::kDone;
  }

  void OnWriteDone(bool ok) override {
    if (!ok) room_.Cancel(this);
    room_.Resume(this);
  }
  void OnCancel() override { room_.Cancel(this); }
  void OnDone() override {
    room_.Leave(this);
    std::shared_ptr<PushStream> last = std::move(self_);
  }

 private:
  PushStream(WaitRoom& room, Fetch fetch, Check check)
      : room_(room), fetch_(std::move(fetch)), check_(std::move(check)) {}

  WaitRoom& room_;
  const Fetch fetch_;
  const Check check_;
  // The page being written (one at a time).
  grpc::ByteBuffer bytes_;
  // Keeps the reactor alive until gRPC is done with it (OnDone).
  std::shared_ptr<PushStream> self_;
};

// A unary call that may wait (gRPC callback API, so a waiting caller costs
// no thread): it tries at once, and while the attempt fails with
// `wait_code` it parks until a Notify of one of its keys, trying again each
// time, until `deadline`; then it answers with the last attempt's status.
// Attempts start on the room's threads, never on gRPC's. An attempt answers
// through its Reply: at once (nothing to take, or an error), or later from
// the thread that committed what it took (a write queued without waiting);
// the call is then finished from that thread, and the room's thread was
// free meanwhile. An answer that comes later is final: a write never fails
// with `wait_code`.
template <typename Response>
class WaitingCall final : public grpc::ServerUnaryReactor, public Waiter {
 public:
  using Attempt = std::function<void(Reply<Response>)>;

  // The reactor for a handler that may wait: admitted (see Admit), its
  // first attempt is queued at once; refused, it ends at once.
  static grpc::ServerUnaryReactor* Start(Admission admission, absl::StatusCode wait_code,
                                         absl::Time deadline, Attempt attempt,
                                         grpc::ByteBuffer* response) {
    auto call = std::shared_ptr<WaitingCall>(
        new WaitingCall(admission.room, wait_code, deadline, std::move(attempt), response));
    call->self_ = call;
    if (absl::Status s = Admit(admission, call); !s.ok()) call->Finish(ToGrpcStatus(s));
    return call.get();
  }

  Next Step(bool notified, absl::Time now, absl::Time* next_check) override {
    absl::Status s;
    if (room_.Cancelled(this)) {
      s = absl::CancelledError("the client went away");
      if (notified) room_.PassOn(this);  // what woke it may be for another waiter
    } else if (room_.Closed()) {
      s = WaitRoom::ShuttingDown();
    } else if (!notified && now < deadline_) {
      *next_check = std::min(*next_check, deadline_);
      return Next::kPark;
    } else {
      std::optional<absl::StatusOr<Response>> r = Try();
      if (!r.has_value()) return Next::kBusy;  // answered from the write's thread
      s = r->status();
      if (s.code() == wait_code_ && now < deadline_) {
        *next_check = std::min(*next_check, deadline_);
        return Next::kPark;
      }
      if (s.ok()) return Answer(*std::move(r));
    }
    return Answer(s);
  }

  void OnCancel() override { room_.Cancel(this); }
  void OnDone() override {
    room_.Leave(this);
    std::shared_ptr<WaitingCall> last = std::move(self_);
  }

 private:
  WaitingCall(WaitRoom& room, absl::StatusCode wait_code, absl::Time deadline, Attempt attempt,
              grpc::ByteBuffer* response)
      : room_(room),
        wait_code_(wait_code),
        deadline_(deadline),
        attempt_(std::move(attempt)),
        response_(response) {}

  // Runs one attempt. Its answer, if it came before the attempt returned;
  // nullopt if it comes later (the reply then finishes the call).
  std::optional<absl::StatusOr<Response>> Try() {
    {
      absl::MutexLock l(&mu_);
      in_attempt_ = true;
    }
    // The reply holds the call until it has answered.
    attempt_([this, keep = self_](absl::StatusOr<Response> r) {
      {
        absl::MutexLock l(&mu_);
        if (in_attempt_) {
          early_ = std::move(r);
          return;
        }
      }
      // Answered from the write's thread: the call leaves the room before
      // its client can see the answer, so an agent that calls again at
      // once is not still counted against its limit (OnDone's Leave then
      // finds it gone).
      room_.Leave(this);
      Answer(std::move(r));
    });
    absl::MutexLock l(&mu_);
    in_attempt_ = false;
    return std::exchange(early_, std::nullopt);
  }

  Next Answer(absl::StatusOr<Response> r) {
    if (r.ok()) *response_ = SerializeMessage(*r);
    room_.CountEnded(EndReason(r.status()));
    Finish(ToGrpcStatus(r.status()));
    return Next::kDone;
  }

  WaitRoom& room_;
  const absl::StatusCode wait_code_;
  const absl::Time deadline_;
  const Attempt attempt_;
  grpc::ByteBuffer* const response_;
  absl::Mutex mu_;
  bool in_attempt_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<absl::StatusOr<Response>> early_ ABSL_GUARDED_BY(mu_);
  // Keeps the reactor alive until gRPC is done with it (OnDone).
  std::shared_ptr<WaitingCall> self_;
};

}  // namespace agentcom::server

#endif  // AGENTCOM_COMMON_SERVER_PUSH_CALLS_H_
