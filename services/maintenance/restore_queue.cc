#include "services/maintenance/restore_queue.h"

#include <algorithm>

#include "common/logging/log.h"

namespace agentcom::maintenance {

RestoreQueue::RestoreQueue(Options options) : options_(std::move(options)) {}

RestoreQueue::~RestoreQueue() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  if (worker_.joinable()) worker_.join();
}

void RestoreQueue::Start() {
  worker_ = std::thread([this] { Work(); });
}

bool RestoreQueue::Enqueue(RestoreRequest request) {
  absl::MutexLock l(&mu_);
  if (!in_flight_.emplace(request.table, std::make_shared<InFlight>()).second) return false;
  const uint64_t generation = generation_[request.table];
  queue_.push_back({.request = std::move(request), .generation = generation});
  return true;
}

v1::RestoreResult RestoreQueue::RunNow(const RestoreRequest& request) {
  const std::string& table = request.table;
  std::shared_ptr<InFlight> joined;
  bool registered = false;
  {
    absl::MutexLock l(&mu_);
    auto it = in_flight_.find(table);
    if (it != in_flight_.end() && request.backup_id.empty() && !request.target_time.has_value()) {
      joined = it->second;
    } else if (it == in_flight_.end()) {
      in_flight_[table] = std::make_shared<InFlight>();
      registered = true;
    }
  }
  if (joined) {
    log::Info("restore request joins the one in progress", {{"table", table}});
    absl::MutexLock l(&mu_);
    mu_.Await(absl::Condition(&joined->done));
    return joined->result;
  }
  v1::RestoreResult result = options_.restore(request);
  absl::MutexLock l(&mu_);
  Completed(table, result, registered);
  return result;
}

void RestoreQueue::Completed(const std::string& table, const v1::RestoreResult& result,
                             bool in_flight) {
  if (result.outcome() != v1::RESTORE_OUTCOME_FAILED) {
    ++generation_[table];
    last_result_[table] = result;
  }
  if (in_flight) FinishInFlight(table, result);
}

void RestoreQueue::FinishInFlight(const std::string& table, const v1::RestoreResult& result) {
  auto it = in_flight_.find(table);
  if (it == in_flight_.end()) return;
  it->second->result = result;
  it->second->done = true;
  in_flight_.erase(it);
}

bool RestoreQueue::InProgress(const std::string& table) const {
  absl::MutexLock l(&mu_);
  return in_flight_.count(table) > 0;
}

bool RestoreQueue::HasReadyJob() const {
  const absl::Time now = options_.clock->Now();
  return std::any_of(queue_.begin(), queue_.end(),
                     [now](const Job& j) { return j.not_before <= now; });
}

void RestoreQueue::Work() {
  while (true) {
    Job job;
    {
      absl::MutexLock l(&mu_);
      auto ready = [this]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || HasReadyJob(); };
      while (!ready()) {
        absl::Time next = absl::InfiniteFuture();
        for (const Job& j : queue_) next = std::min(next, j.not_before);
        options_.clock->AwaitWithDeadline(&mu_, absl::Condition(&ready), next);
      }
      if (stopping_) return;
      const absl::Time now = options_.clock->Now();
      auto it = std::find_if(queue_.begin(), queue_.end(),
                             [now](const Job& j) { return j.not_before <= now; });
      job = std::move(*it);
      queue_.erase(it);
      busy_ = true;
    }
    bool superseded;
    v1::RestoreResult result;
    {
      absl::MutexLock l(&mu_);
      superseded = generation_[job.request.table] != job.generation;
      if (superseded) result = last_result_[job.request.table];
    }
    // A restore that finished after this job was queued (an operator's, of
    // a named backup) already replaced the damaged table, and agents may
    // have written to it since: restoring again would move their writes to
    // quarantine.
    const std::string& table = job.request.table;
    const bool skip = superseded && !options_.needs_restore(table);
    if (skip) {
      log::Info("corruption report already handled by a later restore", {{"table", table}});
    } else {
      result = options_.restore(job.request);
    }
    const bool retry =
        !skip && result.outcome() == v1::RESTORE_OUTCOME_FAILED && options_.needs_restore(table);
    absl::MutexLock l(&mu_);
    busy_ = false;
    if (retry && !stopping_) {
      const absl::Duration backoff =
          std::min(options_.retry_base * (1 << std::min(job.attempt, 4)), options_.retry_max);
      log::Warn("restore failed; retrying", {{"table", table},
                                             {"attempt", job.attempt + 1},
                                             {"in_seconds", absl::ToDoubleSeconds(backoff)},
                                             {"error", result.reason()}});
      job.attempt += 1;
      job.not_before = options_.clock->Now() + backoff;
      job.request.resume.reset();
      job.generation = generation_[table];
      queue_.push_back(std::move(job));
      continue;
    }
    if (skip) {
      FinishInFlight(table, result);
    } else {
      Completed(table, result, true);
    }
  }
}

bool RestoreQueue::WaitRetryPending(absl::Duration timeout) {
  absl::MutexLock l(&mu_);
  auto pending = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !busy_ && !queue_.empty() && !HasReadyJob();
  };
  return mu_.AwaitWithTimeout(absl::Condition(&pending), timeout);
}

bool RestoreQueue::WaitIdle(absl::Duration timeout) {
  absl::MutexLock l(&mu_);
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return queue_.empty() && !busy_; };
  return mu_.AwaitWithTimeout(absl::Condition(&idle), timeout);
}

}  // namespace agentcom::maintenance
