// RestoreQueue on its own (REQUIREMENTS R5, issue 12's joining rules): a fake
// restore function that records calls and returns chosen outcomes, a manual
// clock for the backoff.
#include "services/maintenance/restore_queue.h"

#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/maintenance/maintenance_metrics.h"

namespace agentcom::maintenance {
namespace {

using ::testing::ElementsAre;

class RestoreQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    queue_ = std::make_unique<RestoreQueue>(
        RestoreQueue::Options{.clock = &clock_,
                              .restore = [this](const RestoreRequest& r) { return Restore(r); },
                              .needs_restore =
                                  [this](const std::string&) {
                                    absl::MutexLock l(&mu_);
                                    return needs_restore_;
                                  }});
    queue_->Start();
  }

  v1::RestoreResult Restore(const RestoreRequest& request) {
    const std::string& table = request.table;
    const std::string& backup_id = request.backup_id;
    const v1::Trigger trigger = request.trigger;
    const auto& resume = request.resume;
    ++entered_;
    if (block_.load()) release_.WaitForNotification();
    absl::MutexLock l(&mu_);
    calls_.push_back(absl::StrCat(table, ":", backup_id.empty() ? "newest" : backup_id, ":",
                                  TriggerName(trigger), resume ? ":resumed" : ""));
    v1::RestoreResult r;
    r.set_table(table);
    r.set_trigger(TriggerName(trigger));
    r.set_backup_id(backup_id);
    r.set_outcome(failures_ > 0 ? v1::RESTORE_OUTCOME_FAILED : v1::RESTORE_OUTCOME_RESTORED);
    if (failures_ > 0) --failures_;
    return r;
  }
  std::vector<std::string> Calls() {
    absl::MutexLock l(&mu_);
    return calls_;
  }

  ManualClock clock_;
  absl::Mutex mu_;
  std::vector<std::string> calls_ ABSL_GUARDED_BY(mu_);
  int failures_ ABSL_GUARDED_BY(mu_) = 0;
  bool needs_restore_ ABSL_GUARDED_BY(mu_) = true;
  std::atomic<bool> block_{false};
  // Restores that have begun (blocked or not).
  std::atomic<int> entered_{0};
  absl::Notification release_;
  std::unique_ptr<RestoreQueue> queue_;
};

TEST_F(RestoreQueueTest, OneRestorePerTableAtATime) {
  block_ = true;
  EXPECT_TRUE(queue_->Enqueue({.table = "t", .trigger = v1::TRIGGER_AUTO}));
  EXPECT_FALSE(queue_->Enqueue({.table = "t", .trigger = v1::TRIGGER_AUTO}));  // joins
  EXPECT_TRUE(queue_->InProgress("t"));
  EXPECT_TRUE(queue_->Enqueue({.table = "other", .trigger = v1::TRIGGER_AUTO}));
  release_.Notify();
  ASSERT_TRUE(queue_->WaitIdle(absl::Seconds(30)));
  EXPECT_THAT(Calls(), ElementsAre("t:newest:auto", "other:newest:auto"));
  EXPECT_FALSE(queue_->InProgress("t"));
  EXPECT_TRUE(queue_->Enqueue({.table = "t", .trigger = v1::TRIGGER_AUTO}));  // a new one once done
  ASSERT_TRUE(queue_->WaitIdle(absl::Seconds(30)));
  EXPECT_EQ(Calls().size(), 3u);
}

TEST_F(RestoreQueueTest, ResumedJournalsArePassedOn) {
  v1::RestoreJournal journal;
  journal.set_table("t");
  journal.set_step(v1::RESTORE_STEP_VERIFYING);
  EXPECT_TRUE(queue_->Enqueue({.table = "t", .trigger = v1::TRIGGER_MANUAL, .resume = journal}));
  ASSERT_TRUE(queue_->WaitIdle(absl::Seconds(30)));
  EXPECT_THAT(Calls(), ElementsAre("t:newest:manual:resumed"));
}

TEST_F(RestoreQueueTest, AnOperatorsRestoreOfTheNewestBackupJoinsTheOneInProgress) {
  block_ = true;
  ASSERT_TRUE(queue_->Enqueue({.table = "t", .trigger = v1::TRIGGER_AUTO}));
  v1::RestoreResult joined;
  std::thread op([&] { joined = queue_->RunNow({.table = "t", .trigger = v1::TRIGGER_MANUAL}); });
  absl::SleepFor(absl::Milliseconds(50));
  release_.Notify();
  op.join();
  EXPECT_EQ(joined.trigger(), "auto");  // the automatic restore's result
  EXPECT_THAT(Calls(), ElementsAre("t:newest:auto"));
}

TEST_F(RestoreQueueTest, ARestoreOfANamedBackupRunsAndOvertakesAQueuedOne) {
  // The worker is busy with another table; "t" waits in the queue.
  block_ = true;
  ASSERT_TRUE(queue_->Enqueue({.table = "busy", .trigger = v1::TRIGGER_AUTO}));
  ASSERT_TRUE(queue_->Enqueue({.table = "t", .trigger = v1::TRIGGER_AUTO}));
  // Only once the worker holds "busy" (blocked) may the manual one run
  // unblocked; otherwise the worker could take "busy" unblocked and then "t"
  // before the test marks the table as served.
  while (entered_.load() < 1) absl::SleepFor(absl::Milliseconds(1));
  block_ = false;
  v1::RestoreResult manual = queue_->RunNow(
      {.table = "t", .backup_id = "20261126T000000.000000Z", .trigger = v1::TRIGGER_MANUAL});
  EXPECT_EQ(manual.outcome(), v1::RESTORE_OUTCOME_RESTORED);
  {
    absl::MutexLock l(&mu_);
    needs_restore_ = false;  // the manual restore left a serving table
  }
  release_.Notify();
  ASSERT_TRUE(queue_->WaitIdle(absl::Seconds(30)));
  EXPECT_THAT(Calls(), ElementsAre("t:20261126T000000.000000Z:manual", "busy:newest:auto"));
}

TEST_F(RestoreQueueTest, AnOvertakenRestoreStillRunsWhenTheTableStillNeedsIt) {
  block_ = true;
  ASSERT_TRUE(queue_->Enqueue({.table = "busy", .trigger = v1::TRIGGER_AUTO}));
  ASSERT_TRUE(queue_->Enqueue({.table = "t", .trigger = v1::TRIGGER_AUTO}));
  while (entered_.load() < 1) absl::SleepFor(absl::Milliseconds(1));  // "busy" is held
  block_ = false;
  (void)queue_->RunNow(
      {.table = "t", .backup_id = "20261126T000000.000000Z", .trigger = v1::TRIGGER_MANUAL});
  release_.Notify();  // needs_restore_ stays true: corrupted again
  ASSERT_TRUE(queue_->WaitIdle(absl::Seconds(30)));
  EXPECT_THAT(Calls(),
              ElementsAre("t:20261126T000000.000000Z:manual", "busy:newest:auto", "t:newest:auto"));
}

// The backoff on the manual clock: 5 s, 10 s, 20 s, 40 s, then every 60 s.
TEST_F(RestoreQueueTest, FailedRestoresAreRetriedWithExponentialBackoff) {
  {
    absl::MutexLock l(&mu_);
    failures_ = 6;
  }
  ASSERT_TRUE(queue_->Enqueue({.table = "t", .trigger = v1::TRIGGER_AUTO}));
  ASSERT_TRUE(queue_->WaitRetryPending(absl::Seconds(30)));
  EXPECT_EQ(Calls().size(), 1u);
  for (absl::Duration step : {absl::Seconds(5), absl::Seconds(10), absl::Seconds(20),
                              absl::Seconds(40), absl::Seconds(60), absl::Seconds(60)}) {
    const size_t before = Calls().size();
    clock_.Advance(step - absl::Milliseconds(1));
    ASSERT_TRUE(queue_->WaitRetryPending(absl::Seconds(30)));
    EXPECT_EQ(Calls().size(), before) << "retried before " << step;
    clock_.Advance(absl::Milliseconds(1));
    if (before == 6) break;  // the last retry succeeds: nothing is pending after it
    ASSERT_TRUE(queue_->WaitRetryPending(absl::Seconds(30)));
    EXPECT_EQ(Calls().size(), before + 1) << "not retried at " << step;
  }
  ASSERT_TRUE(queue_->WaitIdle(absl::Seconds(30)));
  EXPECT_EQ(Calls().size(), 7u);  // 6 failures, then success
  EXPECT_FALSE(queue_->InProgress("t"));
}

TEST_F(RestoreQueueTest, AFailedRestoreIsNotRetriedOnceTheTableNoLongerNeedsIt) {
  {
    absl::MutexLock l(&mu_);
    failures_ = 1;
    needs_restore_ = false;
  }
  ASSERT_TRUE(queue_->Enqueue({.table = "t", .trigger = v1::TRIGGER_AUTO}));
  ASSERT_TRUE(queue_->WaitIdle(absl::Seconds(30)));
  EXPECT_EQ(Calls().size(), 1u);
  EXPECT_FALSE(queue_->InProgress("t"));
}

}  // namespace
}  // namespace agentcom::maintenance
