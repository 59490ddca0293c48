#include "services/task_queue/task_queue.h"

#include <algorithm>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/ids/random_id.h"
#include "common/logging/log.h"
#include "common/server/api_checks.h"
#include "common/storage/keys.h"
#include "common/storage/records.h"

namespace agentcom::task_queue {
namespace {

using server::FromProtoTime;
using server::ToProtoTime;
using storage::EncodeI64;
using storage::kSep;
using storage::kSepEnd;

constexpr uint32_t kDefaultAttempts = 3;
constexpr uint32_t kMaxAttempts = 100;
constexpr int32_t kMaxPriority = 1000;
constexpr uint32_t kDefaultLeaseSeconds = 60;
constexpr uint32_t kMaxLeaseSeconds = 3600;
constexpr int kMaxTypes = 16;
constexpr uint32_t kDefaultPage = 100;
constexpr uint32_t kMaxPage = 1000;
constexpr size_t kMaxErrorBytes = 4096;

std::string TaskKey(absl::string_view id) { return absl::StrCat("t", id); }
std::string CreatedPart(const v1::Task& t) {
  return EncodeI64(absl::ToUnixNanos(FromProtoTime(t.created())));
}
std::string QueuedPrefix(absl::string_view type) { return absl::StrCat("q", type, kSep); }
std::string QueuedKey(const v1::Task& t) {
  return absl::StrCat(QueuedPrefix(t.type()), EncodeI64(-static_cast<int64_t>(t.priority())),
                      CreatedPart(t), t.id());
}
std::string LeaseKey(const v1::Task& t) {
  return absl::StrCat("l", EncodeI64(absl::ToUnixNanos(FromProtoTime(t.lease_expires()))), t.id());
}
std::string StatusPrefix(v1::TaskStatus status) {
  return absl::StrCat("s", std::string(1, static_cast<char>('0' + status)));
}
std::string StatusKey(const v1::Task& t) {
  return absl::StrCat(StatusPrefix(t.status()), CreatedPart(t), t.id());
}
std::string IdempotencyKey(absl::string_view key) { return absl::StrCat("k", key); }
// In the dead-letter table every task is DEAD, so its index has no status.
std::string DeadIndexKey(const v1::Task& t) { return absl::StrCat("s", CreatedPart(t), t.id()); }

void AddIndexes(storage::TableBatch* b, const v1::Task& t) {
  b->Put(StatusKey(t), "");
  if (t.status() == v1::TASK_STATUS_QUEUED) b->Put(QueuedKey(t), "");
  if (t.status() == v1::TASK_STATUS_LEASED) b->Put(LeaseKey(t), "");
}

void DeleteIndexes(storage::TableBatch* b, const v1::Task& t) {
  b->Delete(StatusKey(t));
  if (t.status() == v1::TASK_STATUS_QUEUED) b->Delete(QueuedKey(t));
  if (t.status() == v1::TASK_STATUS_LEASED) b->Delete(LeaseKey(t));
}

absl::Status NotHeld(const v1::Task& t, absl::string_view agent) {
  return absl::FailedPreconditionError(absl::StrCat("task ", t.id(), " is not leased to agent ",
                                                    agent, " (status ",
                                                    v1::TaskStatus_Name(t.status()), ")"));
}

}  // namespace

TaskQueue::TaskQueue(storage::Table* queue, storage::Table* dead, topology::v1::Limits limits,
                     Clock* clock, std::function<void(const std::string& type)> on_queued)
    : queue_(queue),
      dead_(dead),
      on_queued_(std::move(on_queued)),
      limits_(std::move(limits)),
      clock_(clock),
      to_dead_(queue, dead),
      from_dead_(dead, queue) {}

absl::Status TaskQueue::Recover() {
  absl::MutexLock l(&mu_);
  // Moves between the tables that are being written finish by themselves.
  mu_.Await(absl::Condition(
      +[](TaskQueue* q) ABSL_NO_THREAD_SAFETY_ANALYSIS { return q->busy_.empty(); }, this));
  queued_floor_.clear();
  lease_floor_ = "l";
  next_expiry_ = absl::InfinitePast();
  if (auto n = to_dead_.Recover(); !n.ok()) return n.status();
  if (auto n = from_dead_.Recover(); !n.ok()) return n.status();
  return absl::OkStatus();
}

absl::StatusOr<std::optional<v1::Task>> TaskQueue::Load(storage::Table* table,
                                                        const std::string& id) {
  return storage::GetRecord<v1::Task>(table, TaskKey(id));
}

storage::TableBatch TaskQueue::BeginReplace(const v1::Task* before, const v1::Task& now) {
  storage::TableBatch b;
  if (before != nullptr) DeleteIndexes(&b, *before);
  b.Put(TaskKey(now.id()), now.SerializeAsString());
  AddIndexes(&b, now);
  LowerFloorsLocked(now);
  if (now.status() == v1::TASK_STATUS_QUEUED) ++queuing_[now.type()];
  if (now.status() == v1::TASK_STATUS_LEASED) {
    const absl::Time expires = FromProtoTime(now.lease_expires());
    leasing_.insert(expires);
    next_expiry_ = std::min(next_expiry_, expires);
  }
  return b;
}

void TaskQueue::EndReplace(const v1::Task& now, const absl::Status& written) {
  if (now.status() == v1::TASK_STATUS_QUEUED) {
    if (--queuing_[now.type()] == 0) queuing_.erase(now.type());
    if (written.ok()) TellQueued(now.type());
  }
  if (now.status() == v1::TASK_STATUS_LEASED) {
    leasing_.erase(leasing_.find(FromProtoTime(now.lease_expires())));
  }
}

absl::Status TaskQueue::Replace(const v1::Task* before, const v1::Task& now) {
  storage::TableBatch b = BeginReplace(before, now);
  const absl::Status s = WriteClaimed(now.id(), [&] { return queue_->Write(b); });
  EndReplace(now, s);
  return s;
}

void TaskQueue::ReplaceAsync(const v1::Task* before, v1::Task now, server::Reply<v1::Task> reply) {
  storage::TableBatch b = BeginReplace(before, now);
  busy_.insert(now.id());
  mu_.Unlock();
  queue_->WriteAsync(std::move(b), [this, now = std::move(now),
                                    reply = std::move(reply)](absl::Status written) mutable {
    {
      absl::MutexLock l(&mu_);
      busy_.erase(now.id());
      EndReplace(now, written);
    }
    if (!written.ok()) return reply(written);
    reply(std::move(now));
  });
}

absl::Status TaskQueue::WriteClaimed(const std::string& id,
                                     const std::function<absl::Status()>& write) {
  busy_.insert(id);
  mu_.Unlock();
  const absl::Status s = write();
  mu_.Lock();
  busy_.erase(id);
  return s;
}

void TaskQueue::AwaitIdle(const std::string& id) {
  struct Idle {
    TaskQueue* queue;
    const std::string* id;
  } idle{this, &id};
  mu_.Await(absl::Condition(
      +[](Idle* i) ABSL_NO_THREAD_SAFETY_ANALYSIS { return !i->queue->busy_.contains(*i->id); },
      &idle));
}

void TaskQueue::TellQueued(const std::string& type) {
  if (on_queued_) on_queued_(type);
}

void TaskQueue::LowerFloorsLocked(const v1::Task& t) {
  if (t.status() == v1::TASK_STATUS_QUEUED) {
    auto it = queued_floor_.find(t.type());
    if (it != queued_floor_.end()) it->second = std::min(it->second, QueuedKey(t));
  }
  if (t.status() == v1::TASK_STATUS_LEASED) lease_floor_ = std::min(lease_floor_, LeaseKey(t));
}

void TaskQueue::SubmitAsync(const v1::SubmitRequest& r, server::Reply<v1::SubmitResponse> reply) {
  if (auto s = server::CheckId("type", r.type(), limits_.max_id_bytes()); !s.ok()) return reply(s);
  if (auto s = server::CheckSize("payload", r.payload().size(), limits_.max_body_bytes());
      !s.ok()) {
    return reply(s);
  }
  if (r.priority() < -kMaxPriority || r.priority() > kMaxPriority) {
    return reply(absl::InvalidArgumentError(
        absl::StrCat("priority must be within -", kMaxPriority, "..", kMaxPriority)));
  }
  if (r.max_attempts() > kMaxAttempts) {
    return reply(
        absl::InvalidArgumentError(absl::StrCat("max_attempts must be at most ", kMaxAttempts)));
  }
  if (!r.idempotency_key().empty()) {
    if (auto s = server::CheckKey("idempotency_key", r.idempotency_key(), limits_.max_id_bytes());
        !s.ok()) {
      return reply(s);
    }
  }
  mu_.Lock();
  v1::SubmitResponse response;
  const std::string& key = r.idempotency_key();
  if (!key.empty()) {
    // A Submit with the same key that is still writing decides first.
    struct Free {
      TaskQueue* queue;
      const std::string* key;
    } free{this, &key};
    mu_.Await(absl::Condition(
        +[](Free* f)
             ABSL_NO_THREAD_SAFETY_ANALYSIS { return !f->queue->writing_keys_.contains(*f->key); },
        &free));
    auto existing = queue_->Get(IdempotencyKey(key));
    if (!existing.ok() || existing->has_value()) {
      mu_.Unlock();
      if (!existing.ok()) return reply(existing.status());
      response.set_id(**existing);
      response.set_created(false);
      return reply(response);
    }
  }
  absl::StatusOr<std::string> id = ids::RandomHex(12);
  if (!id.ok()) {
    mu_.Unlock();
    return reply(id.status());
  }
  const absl::Time now = clock_->Now();
  v1::Task task;
  task.set_id(absl::StrCat("task-", *id));
  task.set_type(r.type());
  task.set_payload(r.payload());
  task.set_priority(r.priority());
  task.set_max_attempts(r.max_attempts() == 0 ? kDefaultAttempts : r.max_attempts());
  task.set_idempotency_key(r.idempotency_key());
  task.set_status(v1::TASK_STATUS_QUEUED);
  *task.mutable_created() = ToProtoTime(now);
  *task.mutable_updated() = ToProtoTime(now);
  storage::TableBatch b;
  b.Put(TaskKey(task.id()), task.SerializeAsString());
  AddIndexes(&b, task);
  LowerFloorsLocked(task);
  if (!key.empty()) {
    b.Put(IdempotencyKey(key), task.id());
    writing_keys_.insert(key);
  }
  ++queuing_[task.type()];
  // The task is claimed (busy_) until its write has committed; mu_ is not
  // held meanwhile, so Submits share one fsync.
  busy_.insert(task.id());
  mu_.Unlock();
  response.set_id(task.id());
  response.set_created(true);
  queue_->WriteAsync(std::move(b), [this, id = task.id(), type = task.type(), key, response,
                                    reply = std::move(reply)](absl::Status written) {
    {
      absl::MutexLock l(&mu_);
      busy_.erase(id);
      if (!key.empty()) writing_keys_.erase(key);
      if (--queuing_[type] == 0) queuing_.erase(type);
      if (written.ok()) TellQueued(type);
    }
    if (!written.ok()) return reply(written);
    reply(response);
  });
}

absl::StatusOr<v1::SubmitResponse> TaskQueue::Submit(const v1::SubmitRequest& request) {
  return server::AwaitReply<v1::SubmitResponse>(
      [&](server::Reply<v1::SubmitResponse> reply) { SubmitAsync(request, std::move(reply)); });
}

absl::Status TaskQueue::CheckAssign(const v1::AssignRequest& r) const {
  if (auto s = server::CheckId("agent_id", r.agent_id(), limits_.max_id_bytes()); !s.ok()) {
    return s;
  }
  if (r.types().empty() || r.types_size() > kMaxTypes) {
    return absl::InvalidArgumentError(
        absl::StrCat("types must list 1..", kMaxTypes, " task types"));
  }
  for (const auto& type : r.types()) {
    if (auto s = server::CheckId("types[]", type, limits_.max_id_bytes()); !s.ok()) return s;
  }
  if (r.lease_seconds() > kMaxLeaseSeconds) {
    return absl::InvalidArgumentError(
        absl::StrCat("lease_seconds must be at most ", kMaxLeaseSeconds));
  }
  if (r.wait_ms() > kMaxWaitMs) {
    return absl::InvalidArgumentError(absl::StrCat("wait_ms must be at most ", kMaxWaitMs));
  }
  return absl::OkStatus();
}

void TaskQueue::AssignAsync(const v1::AssignRequest& r, server::Reply<v1::Task> reply) {
  if (auto s = CheckAssign(r); !s.ok()) return reply(s);
  mu_.Lock();
  absl::StatusOr<v1::Task> best = BestQueuedLocked(r);
  if (!best.ok()) {
    mu_.Unlock();
    return reply(best.status());
  }
  v1::Task leased = *best;
  const absl::Time now = clock_->Now();
  leased.set_status(v1::TASK_STATUS_LEASED);
  leased.set_attempts(leased.attempts() + 1);
  leased.set_agent_id(r.agent_id());
  *leased.mutable_lease_expires() = ToProtoTime(
      now + absl::Seconds(r.lease_seconds() == 0 ? kDefaultLeaseSeconds : r.lease_seconds()));
  *leased.mutable_updated() = ToProtoTime(now);
  // Claims the task (no other call leases it), releases mu_ and answers
  // once the lease has committed.
  ReplaceAsync(&*best, std::move(leased), std::move(reply));
}

absl::StatusOr<v1::Task> TaskQueue::Assign(const v1::AssignRequest& request) {
  return server::AwaitReply<v1::Task>(
      [&](server::Reply<v1::Task> reply) { AssignAsync(request, std::move(reply)); });
}

absl::StatusOr<v1::Task> TaskQueue::BestQueuedLocked(const v1::AssignRequest& r) {
  if (auto expired = ExpireLeasesLocked(); !expired.ok()) return expired.status();
  // The head of each type's index; the smallest suffix is the best task of
  // all (highest priority, then oldest), since suffixes share one encoding.
  std::string best_suffix, best_key;
  for (const std::string& type : std::set<std::string>(r.types().begin(), r.types().end())) {
    const std::string prefix = QueuedPrefix(type);
    const std::string end = absl::StrCat("q", type, kSepEnd);
    auto floor = queued_floor_.find(type);
    std::string head = end;
    bool first = true;
    absl::Status s = queue_->Scan(floor == queued_floor_.end() ? prefix : floor->second, end,
                                  [&](absl::string_view key, absl::string_view) {
                                    if (first) head = std::string(key);
                                    first = false;
                                    absl::string_view suffix = key.substr(prefix.size());
                                    // Being leased or failed by another call.
                                    if (busy_.contains(suffix.substr(16))) return true;
                                    if (best_key.empty() || suffix < best_suffix) {
                                      best_suffix = std::string(suffix);
                                      best_key = std::string(key);
                                    }
                                    return false;
                                  });
    if (!s.ok()) return s;
    // A Submit still writing may commit an index key below `head`.
    if (!queuing_.contains(type)) queued_floor_[type] = head;
  }
  if (best_key.empty()) {
    return absl::NotFoundError(
        absl::StrCat("no queued task of type ", absl::StrJoin(r.types(), ", ")));
  }
  const std::string id = best_suffix.substr(16);
  auto task = Load(queue_, id);
  if (!task.ok()) return task.status();
  if (!task->has_value()) {
    return absl::DataLossError(
        absl::StrCat("table ", kQueueTable, ": index names missing task ", id));
  }
  return **task;
}

absl::StatusOr<v1::Task> TaskQueue::LoadHeld(const std::string& id, const std::string& agent_id) {
  if (auto s = server::CheckId("id", id, limits_.max_id_bytes()); !s.ok()) return s;
  if (auto s = server::CheckId("agent_id", agent_id, limits_.max_id_bytes()); !s.ok()) return s;
  if (auto expired = ExpireLeasesLocked(); !expired.ok()) return expired.status();
  AwaitIdle(id);
  auto task = Load(queue_, id);
  if (!task.ok()) return task.status();
  if (!task->has_value()) {
    auto dead = Load(dead_, id);
    if (!dead.ok()) return dead.status();
    if (dead->has_value()) return NotHeld(**dead, agent_id);
    return absl::NotFoundError(absl::StrCat("task ", id));
  }
  if ((*task)->status() != v1::TASK_STATUS_LEASED || (*task)->agent_id() != agent_id) {
    return NotHeld(**task, agent_id);
  }
  return **task;
}

void TaskQueue::CompleteAsync(const v1::CompleteRequest& r, server::Reply<v1::Task> reply) {
  if (auto s = server::CheckSize("result", r.result().size(), limits_.max_body_bytes()); !s.ok()) {
    return reply(s);
  }
  mu_.Lock();
  absl::StatusOr<v1::Task> held = LoadHeld(r.id(), r.agent_id());
  if (!held.ok()) {
    mu_.Unlock();
    return reply(held.status());
  }
  v1::Task done = *held;
  done.set_status(v1::TASK_STATUS_COMPLETED);
  done.set_result(r.result());
  done.clear_lease_expires();
  *done.mutable_updated() = ToProtoTime(clock_->Now());
  ReplaceAsync(&*held, std::move(done), std::move(reply));
}

absl::StatusOr<v1::Task> TaskQueue::Complete(const v1::CompleteRequest& request) {
  return server::AwaitReply<v1::Task>(
      [&](server::Reply<v1::Task> reply) { CompleteAsync(request, std::move(reply)); });
}

absl::StatusOr<v1::Task> TaskQueue::Fail(const v1::FailRequest& r) {
  if (auto s = server::CheckSize("error", r.error().size(), kMaxErrorBytes); !s.ok()) return s;
  absl::MutexLock l(&mu_);
  absl::StatusOr<v1::Task> held = LoadHeld(r.id(), r.agent_id());
  if (!held.ok()) return held.status();
  return FailLocked(*held, r.agent_id(), r.error());
}

absl::StatusOr<v1::Task> TaskQueue::FailLocked(v1::Task task, const std::string& agent_id,
                                               const std::string& error) {
  const v1::Task before = task;
  const absl::Time now = clock_->Now();
  v1::TaskError* e = task.add_errors();
  e->set_attempt(task.attempts());
  e->set_agent_id(agent_id);
  e->set_error(error);
  *e->mutable_time() = ToProtoTime(now);
  task.clear_lease_expires();
  task.clear_agent_id();
  *task.mutable_updated() = ToProtoTime(now);
  if (task.attempts() < task.max_attempts()) {
    task.set_status(v1::TASK_STATUS_QUEUED);
    if (auto s = Replace(&before, task); !s.ok()) return s;
    return task;
  }
  task.set_status(v1::TASK_STATUS_DEAD);
  storage::TableBatch leave;
  leave.Delete(TaskKey(task.id()));
  DeleteIndexes(&leave, before);
  storage::TableBatch arrive;
  arrive.Put(TaskKey(task.id()), task.SerializeAsString());
  arrive.Put(DeadIndexKey(task), "");
  if (auto s = WriteClaimed(task.id(), [&] { return to_dead_.Apply(leave, arrive); }); !s.ok()) {
    return s;
  }
  log::Info("task moved to dead letter", {{"task", task.id()}, {"attempts", task.attempts()}});
  return task;
}

absl::StatusOr<int> TaskQueue::ExpireLeases() {
  absl::MutexLock l(&mu_);
  return ExpireLeasesLocked();
}

absl::StatusOr<int> TaskQueue::ExpireLeasesLocked() {
  const absl::Time now = clock_->Now();
  if (now < next_expiry_) return 0;
  absl::StatusOr<int> expired = FailExpiredLeasesLocked(now);
  // A scan that stopped on an error says nothing of the next expiry: the
  // next call scans again.
  if (!expired.ok()) next_expiry_ = absl::InfinitePast();
  return expired;
}

absl::StatusOr<int> TaskQueue::FailExpiredLeasesLocked(absl::Time now) {
  // Until the scan says otherwise, no lease expires before the horizon, nor
  // before a lease being written (those begun from now on lower it).
  next_expiry_ = now + kLeaseLookAhead;
  if (!leasing_.empty()) next_expiry_ = std::min(next_expiry_, *leasing_.begin());
  const std::string limit = absl::StrCat("l", EncodeI64(absl::ToUnixNanos(now) + 1));
  const std::string horizon =
      absl::StrCat("l", EncodeI64(absl::ToUnixNanos(now + kLeaseLookAhead)));
  std::vector<std::string> ids;
  absl::Status s =
      queue_->Scan(lease_floor_, horizon, [&](absl::string_view key, absl::string_view) {
        if (key < limit) {
          ids.emplace_back(key.substr(9));
          return true;
        }
        // The first live lease after now: the next one to expire.
        next_expiry_ =
            std::min(next_expiry_, absl::FromUnixNanos(storage::DecodeI64(key.substr(1, 8))));
        return false;
      });
  if (!s.ok()) return s;
  bool skipped = false;
  for (const std::string& id : ids) {
    // Another call is completing or failing it: that call decides.
    if (busy_.contains(id)) {
      skipped = true;
      continue;
    }
    auto task = Load(queue_, id);
    if (!task.ok()) return task.status();
    if (!task->has_value() || (*task)->status() != v1::TASK_STATUS_LEASED) continue;
    const std::string holder = (*task)->agent_id();
    if (auto failed = FailLocked(**task, holder, "lease expired"); !failed.ok()) {
      return failed.status();
    }
  }
  // A skipped lease is looked at again by the next call, in case the call
  // that had it does not end it.
  if (skipped) next_expiry_ = absl::InfinitePast();
  // Every lease below `limit` has been failed (or was stale): none is live,
  // unless one was skipped, or a lease being written may land below it.
  if (!skipped && leasing_.empty()) lease_floor_ = std::max(lease_floor_, limit);
  return static_cast<int>(ids.size());
}

absl::StatusOr<v1::Task> TaskQueue::Get(const v1::GetRequest& r) {
  if (auto s = server::CheckId("id", r.id(), limits_.max_id_bytes()); !s.ok()) return s;
  absl::MutexLock l(&mu_);
  for (storage::Table* table : {queue_, dead_}) {
    auto task = Load(table, r.id());
    if (!task.ok()) return task.status();
    if (task->has_value()) return **task;
  }
  return absl::NotFoundError(absl::StrCat("task ", r.id()));
}

absl::StatusOr<v1::ListResponse> TaskQueue::List(const v1::ListRequest& r) {
  if (r.status() == v1::TASK_STATUS_UNSPECIFIED || !v1::TaskStatus_IsValid(r.status())) {
    return absl::InvalidArgumentError("status must be QUEUED, LEASED, COMPLETED or DEAD");
  }
  absl::StatusOr<uint32_t> page =
      server::PageSize("page_size", r.page_size(), kDefaultPage, kMaxPage);
  if (!page.ok()) return page.status();
  const bool dead = r.status() == v1::TASK_STATUS_DEAD;
  storage::Table* table = dead ? dead_ : queue_;
  const std::string prefix = dead ? std::string("s") : StatusPrefix(r.status());
  v1::ListResponse response;
  absl::MutexLock l(&mu_);
  absl::StatusOr<std::string> next = storage::ScanPage(
      table,
      {.query = v1::TaskStatus_Name(r.status()),
       .page_token = r.page_token(),
       .prefix = prefix,
       .limit = dead ? std::string("t") : StatusPrefix(static_cast<v1::TaskStatus>(r.status() + 1)),
       .page_size = *page},
      [&](absl::string_view key, absl::string_view) -> absl::Status {
        auto task = Load(table, std::string(key.substr(prefix.size() + 8)));
        if (!task.ok()) return task.status();
        if (task->has_value()) *response.add_tasks() = **task;
        return absl::OkStatus();
      });
  if (!next.ok()) return next.status();
  response.set_next_page_token(*next);
  return response;
}

absl::StatusOr<v1::Task> TaskQueue::RetryDeadLetter(const v1::RetryDeadLetterRequest& r) {
  if (auto s = server::CheckId("id", r.id(), limits_.max_id_bytes()); !s.ok()) return s;
  absl::MutexLock l(&mu_);
  AwaitIdle(r.id());
  auto dead = Load(dead_, r.id());
  if (!dead.ok()) return dead.status();
  if (!dead->has_value()) {
    return absl::NotFoundError(absl::StrCat("task ", r.id(), " is not in the dead-letter table"));
  }
  v1::Task task = **dead;
  storage::TableBatch leave;
  leave.Delete(TaskKey(task.id()));
  leave.Delete(DeadIndexKey(task));
  task.set_status(v1::TASK_STATUS_QUEUED);
  task.set_attempts(0);
  task.clear_agent_id();
  *task.mutable_updated() = ToProtoTime(clock_->Now());
  storage::TableBatch arrive;
  arrive.Put(TaskKey(task.id()), task.SerializeAsString());
  AddIndexes(&arrive, task);
  LowerFloorsLocked(task);
  ++queuing_[task.type()];
  const absl::Status s = WriteClaimed(task.id(), [&] { return from_dead_.Apply(leave, arrive); });
  if (--queuing_[task.type()] == 0) queuing_.erase(task.type());
  if (!s.ok()) return s;
  TellQueued(task.type());
  return task;
}

LeaseReaper::LeaseReaper(TaskQueue* queue, absl::Duration interval) : queue_(queue) {
  thread_ = std::thread([this, interval] {
    auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
    while (true) {
      {
        absl::MutexLock l(&mu_);
        if (mu_.AwaitWithTimeout(absl::Condition(&stopping), interval)) return;
      }
      absl::StatusOr<int> n = queue_->ExpireLeases();
      if (!n.ok()) {
        log::Warn("cannot expire leases", {{"error", std::string(n.status().message())}});
      } else if (*n > 0) {
        log::Info("expired leases", {{"tasks", *n}});
      }
    }
  });
}

LeaseReaper::~LeaseReaper() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

}  // namespace agentcom::task_queue
