// The manual clock that maintenance's tests drive (issue 13): sleepers and
// waiters wake when, and only when, Advance passes their deadline.
#include "common/clock/clock.h"

#include <atomic>
#include <thread>

#include "gtest/gtest.h"

namespace agentcom {
namespace {

void WaitForBlocks(ManualClock& clock, uint64_t n) {
  while (clock.blocks() < n) absl::SleepFor(absl::Milliseconds(1));
}

TEST(ManualClockTest, SleepUntilWakesWhenTheClockPassesTheDeadline) {
  ManualClock clock;
  const absl::Time start = clock.Now();
  std::atomic<bool> woke{false};
  std::thread sleeper([&] {
    clock.SleepFor(absl::Seconds(10));
    woke = true;
  });
  WaitForBlocks(clock, 1);
  clock.Advance(absl::Seconds(9));
  absl::SleepFor(absl::Milliseconds(20));
  EXPECT_FALSE(woke);
  clock.Advance(absl::Seconds(1));
  sleeper.join();
  EXPECT_TRUE(woke);
  EXPECT_EQ(clock.Now() - start, absl::Seconds(10));
}

TEST(ManualClockTest, AwaitReturnsOnTheConditionOrTheDeadline) {
  ManualClock clock;
  absl::Mutex mu;
  bool flag = false;
  bool result = true;
  std::thread waiter([&] {
    absl::MutexLock l(&mu);
    result = clock.AwaitWithDeadline(&mu, absl::Condition(&flag), clock.Now() + absl::Seconds(5));
  });
  WaitForBlocks(clock, 1);
  clock.Advance(absl::Seconds(5));  // the deadline, flag still false
  waiter.join();
  EXPECT_FALSE(result);

  std::thread waiter2([&] {
    absl::MutexLock l(&mu);
    result = clock.AwaitWithDeadline(&mu, absl::Condition(&flag), absl::InfiniteFuture());
  });
  WaitForBlocks(clock, 2);
  {
    absl::MutexLock l(&mu);
    flag = true;  // releasing mu wakes the waiter
  }
  waiter2.join();
  EXPECT_TRUE(result);
}

TEST(RealClockTest, SleepsAndWaitsInRealTime) {
  Clock* clock = Clock::Real();
  const absl::Time start = clock->Now();
  clock->SleepFor(absl::Milliseconds(5));
  absl::Mutex mu;
  bool never = false;
  absl::MutexLock l(&mu);
  EXPECT_FALSE(
      clock->AwaitWithDeadline(&mu, absl::Condition(&never), clock->Now() + absl::Milliseconds(5)));
  EXPECT_GE(clock->Now() - start, absl::Milliseconds(10));
}

}  // namespace
}  // namespace agentcom
