#include "common/server/call_pool.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace agentcom::server {
namespace {

TEST(CallPoolTest, RunsEveryCallOnceFromManyCallers) {
  std::atomic<int> runs{0};
  {
    CallPool pool(3);
    std::vector<std::thread> callers;
    for (int c = 0; c < 4; ++c) {
      callers.emplace_back([&] {
        for (int i = 0; i < 1000; ++i) pool.Run([&] { ++runs; });
      });
    }
    for (auto& t : callers) t.join();
  }  // the destructor runs what is still queued
  EXPECT_EQ(runs.load(), 4000);
}

// A call that blocks (a read waiting on its disk, a write on its sync)
// holds one thread; the others go on serving.
TEST(CallPoolTest, ABlockedCallDoesNotHoldUpTheOthers) {
  CallPool pool(2);
  absl::Notification release, blocked, other_ran;
  pool.Run([&] {
    blocked.Notify();
    release.WaitForNotification();
  });
  blocked.WaitForNotification();
  pool.Run([&] { other_ran.Notify(); });
  EXPECT_TRUE(other_ran.WaitForNotificationWithTimeout(absl::Seconds(10)));
  release.Notify();
}

TEST(CallPoolTest, OneThreadRunsCallsInTheOrderTheyCame) {
  std::vector<int> order;
  {
    CallPool pool(1);
    for (int i = 0; i < 100; ++i) pool.Run([&order, i] { order.push_back(i); });
  }
  ASSERT_EQ(order.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(order[i], i);
}

}  // namespace
}  // namespace agentcom::server
