#ifndef AGENTCOM_SERVICES_TASK_QUEUE_TASK_QUEUE_H_
#define AGENTCOM_SERVICES_TASK_QUEUE_TASK_QUEUE_H_

#include <functional>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agentcom/task_queue/v1/task_queue.pb.h"
#include "agentcom/topology/v1/topology.pb.h"
#include "common/clock/clock.h"
#include "common/server/api_checks.h"
#include "common/storage/linked_writer.h"
#include "common/storage/table.h"

namespace agentcom::task_queue {

inline constexpr char kQueueTable[] = "task_queue";
inline constexpr char kDeadLetterTable[] = "task_dead_letter";
// Longest AssignRequest.wait_ms.
inline constexpr uint32_t kMaxWaitMs = 60000;
// How far past now a scan of the lease index looks for the next lease to
// expire (TaskQueue::next_expiry_).
inline constexpr absl::Duration kLeaseLookAhead = absl::Seconds(10);

// A priority work queue with leases, retries and dead letters over two
// tables (see task_queue.proto for the contract). Knows nothing of gRPC.
//
// Layout of task_queue:
//   't' id                                         -> Task
//   'q' type 0x00 i64(-priority) i64(created) id   -> ""  queued, best first
//   'l' i64(lease_expires) id                      -> ""  leased, soonest first
//   's' status i64(created) id                     -> ""  for List
//   'k' idempotency_key                            -> id
// Layout of task_dead_letter:
//   't' id -> Task,  's' i64(created) id -> ""
// Assign reads the first 'q' key of each requested type: O(types x log n).
// Each transition within task_queue is one batch. Moving a task between the
// two tables goes through storage::LinkedWriter: the source table's batch
// carries an intent record for the destination, replayed by Recover() after
// a crash, so no task is ever lost or in both tables once recovered.
//
// Thread-safe: one mutex serialises state transitions, so two agents can
// never lease the same task. No call holds it through a write's fsync: it
// prepares a write under the mutex, claims the task, writes without the
// mutex (so writers of different tasks share one fsync) and accounts for
// the result under the mutex again.
class TaskQueue {
 public:
  // `on_queued`, when set, is called with a task's type each time a task
  // is queued (submitted, failed or expired with attempts left, or retried
  // from the dead letters), after the write is acknowledged, with the
  // queue's lock held: it must be quick and must not call the queue.
  TaskQueue(storage::Table* queue, storage::Table* dead, topology::v1::Limits limits, Clock* clock,
            std::function<void(const std::string& type)> on_queued = nullptr);

  // Finishes moves a crash interrupted, and forgets what the queue knew of
  // the table's indexes (it may have been restored). Call before serving.
  absl::Status Recover();

  // Answers once the task has committed, without the caller waiting.
  void SubmitAsync(const v1::SubmitRequest& request, server::Reply<v1::SubmitResponse> reply);
  absl::StatusOr<v1::SubmitResponse> Submit(const v1::SubmitRequest& request);
  // Leases the best queued task of the requested types and answers once
  // the lease has committed, without the caller waiting for it; NOT_FOUND
  // (at once) when no task of the types is queued. Ignores
  // request.wait_ms (waiting is the service's: see TaskQueueService).
  void AssignAsync(const v1::AssignRequest& request, server::Reply<v1::Task> reply);
  absl::StatusOr<v1::Task> Assign(const v1::AssignRequest& request);
  // Assign's argument checks (INVALID_ARGUMENT), wait_ms included.
  absl::Status CheckAssign(const v1::AssignRequest& request) const;
  // Answers once the completion has committed, without the caller waiting.
  void CompleteAsync(const v1::CompleteRequest& request, server::Reply<v1::Task> reply);
  absl::StatusOr<v1::Task> Complete(const v1::CompleteRequest& request);
  absl::StatusOr<v1::Task> Fail(const v1::FailRequest& request);
  absl::StatusOr<v1::Task> Get(const v1::GetRequest& request);
  absl::StatusOr<v1::ListResponse> List(const v1::ListRequest& request);
  absl::StatusOr<v1::Task> RetryDeadLetter(const v1::RetryDeadLetterRequest& request);

  // Treats every lease that expired by now as a failed attempt. Returns how
  // many. Assign does this first; LeaseReaper calls it periodically.
  absl::StatusOr<int> ExpireLeases();

 private:
  absl::StatusOr<int> ExpireLeasesLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The scan of ExpireLeasesLocked, once next_expiry_ has passed: fails
  // every lease expired at `now` and sets next_expiry_.
  absl::StatusOr<int> FailExpiredLeasesLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::optional<v1::Task>> Load(storage::Table* table, const std::string& id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The task, leased to `agent_id`; FAILED_PRECONDITION otherwise.
  absl::StatusOr<v1::Task> LoadHeld(const std::string& id, const std::string& agent_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The best queued task of the request's types that no call is writing
  // (expiring leases first); NOT_FOUND when there is none.
  absl::StatusOr<v1::Task> BestQueuedLocked(const v1::AssignRequest& request)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writes `now` in place of `before` in task_queue, with its indexes
  // (through WriteClaimed).
  absl::Status Replace(const v1::Task* before, const v1::Task& now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The same without waiting: claims the task, queues the write, releases
  // mu_ and answers `reply` with `now` once the write has committed.
  void ReplaceAsync(const v1::Task* before, v1::Task now, server::Reply<v1::Task> reply)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) ABSL_UNLOCK_FUNCTION(mu_);
  // The batch of a Replace, with the accounting of a write in flight
  // (floors lowered, queuing_ / leasing_ counted); EndReplace undoes the
  // counts once the write's status is known.
  storage::TableBatch BeginReplace(const v1::Task* before, const v1::Task& now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EndReplace(const v1::Task& now, const absl::Status& written)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs `write`, a write of task `id`, with mu_ released, so that writers
  // share one fsync; the task is claimed meanwhile (busy_). The caller has
  // waited for the task to be idle (AwaitIdle) and prepared the write under
  // mu_.
  absl::Status WriteClaimed(const std::string& id, const std::function<absl::Status()>& write)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Waits (releasing mu_) until no write of task `id` is in flight.
  void AwaitIdle(const std::string& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Records a failed attempt: re-queues, or moves to the dead-letter table.
  absl::StatusOr<v1::Task> FailLocked(v1::Task task, const std::string& agent_id,
                                      const std::string& error) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  void TellQueued(const std::string& type);

  storage::Table* const queue_;
  storage::Table* const dead_;
  const std::function<void(const std::string& type)> on_queued_;
  const topology::v1::Limits limits_;
  Clock* const clock_;
  storage::LinkedWriter to_dead_;
  storage::LinkedWriter from_dead_;
  absl::Mutex mu_;
  // Lowers the seek floors below for a task whose index keys are written.
  void LowerFloorsLocked(const v1::Task& t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Seek floors: no live index key sorts below them. Deleted index entries
  // stay in LevelDB as tombstones until compaction reaches the bottom level,
  // and a queue deletes its head on every Assign; scanning from the prefix
  // walks every tombstone of the tasks assigned since the last compaction on
  // every call (quadratic in a busy queue). Absent / "l": start of the index.
  std::map<std::string, std::string> queued_floor_ ABSL_GUARDED_BY(mu_);
  std::string lease_floor_ ABSL_GUARDED_BY(mu_) = "l";
  // Writes run without holding mu_ (WriteClaimed). Meanwhile: the ids of
  // the tasks being written (no other call changes them; Assign passes
  // over them), the idempotency keys of Submits writing (a second Submit
  // with the key waits for the first), per type how many writes are
  // queuing a task (Assign then does not raise that type's floor, which the
  // writer lowered), and the expiry of each lease being written
  // (ExpireLeases then does not raise the lease floor).
  absl::flat_hash_set<std::string> busy_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::string> writing_keys_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, int> queuing_ ABSL_GUARDED_BY(mu_);
  std::multiset<absl::Time> leasing_ ABSL_GUARDED_BY(mu_);
  // No lease expires before this (a lower bound; InfinitePast: unknown).
  // Without it every Assign and Complete would scan the lease index, and
  // the scan walks every lease key deleted since LevelDB last compacted
  // that range (the live leases expire after `now`, and LevelDB's iterator
  // steps over deleted keys one by one until it finds a live one): 58% of
  // the CPU of Assign+Complete, measured. It is lowered by every lease
  // begun, and the scan looks kLeaseLookAhead past now for the next one.
  absl::Time next_expiry_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

// Calls TaskQueue::ExpireLeases every `interval` on a thread of its own.
class LeaseReaper {
 public:
  LeaseReaper(TaskQueue* queue, absl::Duration interval);
  ~LeaseReaper();

 private:
  TaskQueue* const queue_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace agentcom::task_queue

#endif  // AGENTCOM_SERVICES_TASK_QUEUE_TASK_QUEUE_H_
