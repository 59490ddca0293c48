#ifndef AGENTCOM_SERVICES_MAINTENANCE_EVENT_LOG_H_
#define AGENTCOM_SERVICES_MAINTENANCE_EVENT_LOG_H_

#include <deque>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agentcom/maintenance/v1/maintenance.pb.h"
#include "common/clock/clock.h"

namespace leveldb {
class Env;
}

namespace agentcom::maintenance {

// Maintenance's event log: ids increase and are never reused; the last
// `capacity` events are kept in <state_dir>/events.jsonl (rewritten
// atomically on every event), so they survive a restart. Thread-safe.
class EventLog {
 public:
  // `env` does the file I/O (nullptr: leveldb::Env::Default()); not owned.
  EventLog(std::string path, Clock* clock, size_t capacity = 1000, leveldb::Env* env = nullptr);

  // Reads the persisted events. A missing file is an empty log.
  absl::Status Load();

  // Records an event and wakes watchers. Returns it with id and time set.
  v1::Event Add(const std::string& type, const std::string& table, const std::string& message,
                std::map<std::string, std::string> details = {});

  // Events with id > after_id, oldest first, at most `limit`.
  std::vector<v1::Event> After(uint64_t after_id, size_t limit) const;

  // Waits up to `timeout` for an event with id > after_id; true if one exists.
  bool WaitAfter(uint64_t after_id, absl::Duration timeout) const;

  // Called for every new event (for the webhook notifier), outside the lock.
  void OnEvent(std::function<void(const v1::Event&)> listener);

 private:
  absl::Status Persist() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string path_;
  Clock* const clock_;
  const size_t capacity_;
  leveldb::Env* const env_;
  mutable absl::Mutex mu_;
  std::deque<v1::Event> events_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::vector<std::function<void(const v1::Event&)>> listeners_ ABSL_GUARDED_BY(mu_);
};

}  // namespace agentcom::maintenance

#endif  // AGENTCOM_SERVICES_MAINTENANCE_EVENT_LOG_H_
