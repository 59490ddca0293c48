#include "services/gateway/event_hub.h"

#include <google/protobuf/util/json_util.h>
#include <grpcpp/client_context.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/logging/log.h"

namespace agentcom::gateway {

namespace mnt = ::agentcom::maintenance::v1;

EventHub::EventHub(std::shared_ptr<mnt::Maintenance::StubInterface> stub, std::string token)
    : stub_(std::move(stub)), token_(std::move(token)) {
  thread_ = std::thread([this] { Run(); });
}

EventHub::~EventHub() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
    if (active_ != nullptr) active_->TryCancel();
  }
  thread_.join();
}

uint64_t EventHub::last_id() const {
  absl::MutexLock l(&mu_);
  return last_id_;
}

bool EventHub::connected() const {
  absl::MutexLock l(&mu_);
  return connected_;
}

uint64_t EventHub::Subscribe(uint64_t after_id, Sink sink) {
  absl::MutexLock l(&mu_);
  for (const auto& [id, json] : recent_) {
    if (id > after_id && !sink(id, json)) return 0;
  }
  const uint64_t handle = next_handle_++;
  sinks_[handle] = std::move(sink);
  return handle;
}

void EventHub::Unsubscribe(uint64_t handle) {
  absl::MutexLock l(&mu_);
  sinks_.erase(handle);
}

void EventHub::Publish(const mnt::Event& event) {
  std::string json;
  google::protobuf::util::JsonPrintOptions print;
  print.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(event, &json, print);
  absl::MutexLock l(&mu_);
  if (event.id() <= last_id_) return;  // already seen before a reconnect
  last_id_ = event.id();
  recent_.emplace_back(event.id(), json);
  while (recent_.size() > 1000) recent_.pop_front();
  for (auto it = sinks_.begin(); it != sinks_.end();) {
    if (it->second(event.id(), json)) {
      ++it;
    } else {
      it = sinks_.erase(it);
    }
  }
}

void EventHub::Run() {
  absl::Duration backoff = absl::Milliseconds(100);
  while (true) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", absl::StrCat("Bearer ", token_));
    mnt::WatchEventsRequest request;
    {
      absl::MutexLock l(&mu_);
      if (stopping_) return;
      request.set_after_id(last_id_);
      active_ = &ctx;
    }
    auto reader = stub_->WatchEvents(&ctx, request);
    mnt::Event event;
    bool first = true;
    while (reader->Read(&event)) {
      if (first) {
        absl::MutexLock l(&mu_);
        connected_ = true;
        first = false;
      }
      backoff = absl::Milliseconds(100);
      Publish(event);
    }
    grpc::Status status = reader->Finish();
    {
      absl::MutexLock l(&mu_);
      active_ = nullptr;
      connected_ = false;
      if (stopping_) return;
    }
    log::Warn("event stream from maintenance ended; reconnecting",
              {{"error", status.error_message()}, {"retry_in_ms", absl::ToInt64Milliseconds(backoff)}});
    absl::MutexLock l(&mu_);
    auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
    mu_.AwaitWithTimeout(absl::Condition(&stopping), backoff);
    backoff = std::min(backoff * 2, absl::Seconds(2));
  }
}

}  // namespace agentcom::gateway
