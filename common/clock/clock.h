#ifndef AGENTCOM_COMMON_CLOCK_CLOCK_H_
#define AGENTCOM_COMMON_CLOCK_CLOCK_H_

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace agentcom {

// Where code that schedules or expires things reads the time, so tests can
// drive it by hand. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() = 0;

  // The process-wide real clock; never deleted.
  static Clock* Real();
};

class RealClock final : public Clock {
 public:
  absl::Time Now() override { return absl::Now(); }
};

inline Clock* Clock::Real() {
  static Clock* real = new RealClock();
  return real;
}

// A clock that moves only when told to. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(absl::Time start = absl::FromUnixSeconds(1'800'000'000))
      : now_(start) {}
  absl::Time Now() override {
    absl::MutexLock l(&mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock l(&mu_);
    now_ += d;
  }

 private:
  absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace agentcom

#endif  // AGENTCOM_COMMON_CLOCK_CLOCK_H_
