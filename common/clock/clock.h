#ifndef AGENTCOM_COMMON_CLOCK_CLOCK_H_
#define AGENTCOM_COMMON_CLOCK_CLOCK_H_

#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace agentcom {

// Where code that schedules, expires, retries or times out reads the time
// and waits for it, so tests can drive it by hand (as leveldb::Env's
// NowMicros and SleepForMicroseconds). Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() = 0;

  // Blocks the calling thread until Now() >= deadline.
  virtual void SleepUntil(absl::Time deadline) = 0;
  void SleepFor(absl::Duration d) { SleepUntil(Now() + d); }

  // Called with `*mu` held: releases it until `condition` holds (it is
  // re-evaluated whenever `*mu` is released by another thread) or Now()
  // reaches `deadline`, then returns with `*mu` held again, telling whether
  // the condition holds.
  virtual bool AwaitWithDeadline(absl::Mutex* mu, const absl::Condition& condition,
                                 absl::Time deadline) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) = 0;

  // The process-wide real clock; never deleted.
  static Clock* Real();
};

class RealClock final : public Clock {
 public:
  absl::Time Now() override { return absl::Now(); }
  void SleepUntil(absl::Time deadline) override { absl::SleepFor(deadline - absl::Now()); }
  bool AwaitWithDeadline(absl::Mutex* mu, const absl::Condition& condition,
                         absl::Time deadline) override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return mu->AwaitWithDeadline(condition, deadline);
  }
};

inline Clock* Clock::Real() {
  static Clock* real = new RealClock();
  return real;
}

// A clock that moves only when told to: sleeping and waiting threads wake
// when Advance passes their deadline, never by themselves. Thread-safe. The
// mutexes passed to AwaitWithDeadline must outlive the Advance calls made
// while they are waited on.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(absl::Time start = absl::FromUnixSeconds(1'800'000'000)) : now_(start) {}
  absl::Time Now() override {
    absl::MutexLock l(&mu_);
    return now_;
  }
  void SleepUntil(absl::Time deadline) override {
    absl::MutexLock l(&mu_);
    ++sleepers_;
    ++blocks_;
    auto reached = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return now_ >= deadline; };
    mu_.Await(absl::Condition(&reached));
    --sleepers_;
  }
  bool AwaitWithDeadline(absl::Mutex* mu, const absl::Condition& condition,
                         absl::Time deadline) override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    {
      absl::MutexLock l(&mu_);
      waiters_.push_back(mu);
      ++blocks_;
    }
    auto done = [&] { return condition.Eval() || Now() >= deadline; };
    mu->Await(absl::Condition(&done));
    {
      absl::MutexLock l(&mu_);
      for (auto it = waiters_.begin(); it != waiters_.end(); ++it) {
        if (*it == mu) {
          waiters_.erase(it);
          break;
        }
      }
    }
    return condition.Eval();
  }
  void Advance(absl::Duration d) {
    std::vector<absl::Mutex*> waiters;
    {
      absl::MutexLock l(&mu_);
      now_ += d;
      waiters = waiters_;
    }
    // absl::Mutex re-evaluates the conditions of its waiters when it is
    // released: locking and releasing each waited-on mutex wakes those whose
    // deadline has now passed.
    for (absl::Mutex* m : waiters) {
      m->Lock();
      m->Unlock();
    }
  }
  // How many times a thread has begun to sleep or wait on this clock. A test
  // that advances the clock waits for this to grow to know that the thread
  // it woke has acted and waits again.
  uint64_t blocks() {
    absl::MutexLock l(&mu_);
    return blocks_;
  }

 private:
  absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::Mutex*> waiters_ ABSL_GUARDED_BY(mu_);
  int sleepers_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t blocks_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace agentcom

#endif  // AGENTCOM_COMMON_CLOCK_CLOCK_H_
