#ifndef AGENTCOM_SERVICES_GATEWAY_EVENT_HUB_H_
#define AGENTCOM_SERVICES_GATEWAY_EVENT_HUB_H_

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "agentcom/maintenance/v1/maintenance.grpc.pb.h"

namespace agentcom::gateway {

// Holds one WatchEvents stream to maintenance and fans every event out to
// the subscribed browsers. When maintenance restarts, it reconnects and
// resumes after the last event id it saw, so subscribers see each event once
// and in order. Keeps the last 1000 events so a subscriber can start after
// any recent id. Thread-safe.
class EventHub {
 public:
  // Called with each event as JSON, in id order, under the hub's lock: it
  // must not block (queue the message and return) nor call back into the
  // hub. Returns false to be unsubscribed (its client is gone or its queue
  // overflowed).
  using Sink = std::function<bool(uint64_t id, const std::string& json)>;

  EventHub(std::shared_ptr<maintenance::v1::Maintenance::StubInterface> stub, std::string token);
  ~EventHub();

  // Delivers the kept events with id > after_id, then every new one.
  // Returns a handle for Unsubscribe.
  uint64_t Subscribe(uint64_t after_id, Sink sink);
  void Unsubscribe(uint64_t handle);

  uint64_t last_id() const;
  bool connected() const;

 private:
  void Run();
  void Publish(const maintenance::v1::Event& event);

  std::shared_ptr<maintenance::v1::Maintenance::StubInterface> stub_;
  const std::string token_;
  mutable absl::Mutex mu_;
  std::deque<std::pair<uint64_t, std::string>> recent_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, Sink> sinks_ ABSL_GUARDED_BY(mu_);
  uint64_t next_handle_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t last_id_ ABSL_GUARDED_BY(mu_) = 0;
  bool connected_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* active_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::thread thread_;
};

}  // namespace agentcom::gateway

#endif  // AGENTCOM_SERVICES_GATEWAY_EVENT_HUB_H_
