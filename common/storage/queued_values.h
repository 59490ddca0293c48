#ifndef AGENTCOM_COMMON_STORAGE_QUEUED_VALUES_H_
#define AGENTCOM_COMMON_STORAGE_QUEUED_VALUES_H_

#include <functional>
#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/storage/keys.h"
#include "common/storage/table.h"

namespace agentcom::storage {

// For read-modify-write cores whose writes commit without the caller waiting
// (Table::WriteAsync): the value each key will hold once the writes queued
// for it have committed, so the next write of a key is computed from the
// last one queued rather than from the last one committed. Callers
// serialise the writers of one key (a stripe lock held from Latest through
// Queue and the WriteAsync call, so queue order is write order).
//
// After a failed write, a later write of the same key queued meanwhile may
// still commit; it was computed from the failed one, so a version or
// sequence number it derived is skipped, never reused.
//
// Thread-safe.
template <typename V>
class QueuedValues {
 public:
  // The value the newest queued write of `key` gives it; nullopt when no
  // write of it is queued.
  std::optional<V> Latest(const std::string& key) const {
    absl::MutexLock l(&mu_);
    auto it = queued_.find(key);
    if (it == queued_.end()) return std::nullopt;
    return it->second.value;
  }

  // Records that a write giving `key` the value `value` was queued.
  void Queue(const std::string& key, V value) {
    absl::MutexLock l(&mu_);
    Entry& e = queued_[key];
    e.value = std::move(value);
    ++e.writes;
  }

  // One queued write of `key` finished (committed or failed).
  void Finish(const std::string& key) {
    absl::MutexLock l(&mu_);
    auto it = queued_.find(key);
    if (it != queued_.end() && --it->second.writes == 0) queued_.erase(it);
  }

  // Queue + Table::WriteAsync + Finish: records `batch` as the write giving
  // `key` the value `value`, queues it on `table`, and once it has committed
  // answers `reply` with `response` (or with the write's error).
  template <typename Response>
  void Write(Table& table, const std::string& key, V value, TableBatch batch, Response response,
             std::function<void(absl::StatusOr<Response>)> reply) {
    Queue(key, std::move(value));
    table.WriteAsync(std::move(batch), [this, key, response = std::move(response),
                                        reply = std::move(reply)](absl::Status s) {
      Finish(key);
      if (!s.ok()) return reply(s);
      reply(response);
    });
  }

 private:
  struct Entry {
    V value;
    int writes = 0;
  };
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> queued_ ABSL_GUARDED_BY(mu_);
};

// The next sequence number of `owner` (an agent, a channel), whose last
// issued number is stored under `seq_key`: after the last one queued, else
// after the stored one (Table::NextSequence). Called with the owner's
// stripe held.
inline absl::StatusOr<uint64_t> NextSequence(Table& table, const QueuedValues<uint64_t>& queued,
                                             const std::string& owner, const std::string& seq_key) {
  std::optional<uint64_t> last = queued.Latest(owner);
  if (!last) {
    absl::StatusOr<std::optional<std::string>> stored = table.Get(seq_key);
    if (!stored.ok()) return stored.status();
    last = stored->has_value() ? DecodeU64(**stored) : 0;
  }
  return table.NextSequence(*last);
}

}  // namespace agentcom::storage

#endif  // AGENTCOM_COMMON_STORAGE_QUEUED_VALUES_H_
