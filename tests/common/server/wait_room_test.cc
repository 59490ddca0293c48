#include "common/server/wait_room.h"

#include <atomic>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace agentcom::server {
namespace {

using ::testing::HasSubstr;

// A waiter that records its steps and parks, or blocks in its step until
// released (to notify it while it runs).
class RecordingWaiter : public Waiter {
 public:
  Next Step(bool notified, absl::Time, absl::Time* next_check) override {
    absl::MutexLock l(&mu_);
    (notified ? notified_steps_ : checks_)++;
    if (hold_) {
      running_ = true;
      mu_.Await(absl::Condition(
          +[](RecordingWaiter* w) ABSL_NO_THREAD_SAFETY_ANALYSIS { return !w->hold_; }, this));
      running_ = false;
    }
    if (next_check_) *next_check = *next_check_;
    return next_;
  }
  int notified_steps() {
    absl::MutexLock l(&mu_);
    return notified_steps_;
  }
  int checks() {
    absl::MutexLock l(&mu_);
    return checks_;
  }
  // Waits until the step counts reach at least `notified` and `checks`.
  bool AwaitSteps(int notified, int checks = 0) {
    struct Arg {
      RecordingWaiter* w;
      int notified, checks;
    } arg{this, notified, checks};
    absl::MutexLock l(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(
                                    +[](Arg* a) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                                      return a->w->notified_steps_ >= a->notified &&
                                             a->w->checks_ >= a->checks;
                                    },
                                    &arg),
                                absl::Seconds(10));
  }
  void Hold() {
    absl::MutexLock l(&mu_);
    hold_ = true;
  }
  void AwaitRunning() {
    absl::MutexLock l(&mu_);
    mu_.Await(absl::Condition(&running_));
  }
  void Release() {
    absl::MutexLock l(&mu_);
    hold_ = false;
  }
  void SetNext(Next n, std::optional<absl::Time> next_check = std::nullopt) {
    absl::MutexLock l(&mu_);
    next_ = n;
    next_check_ = next_check;
  }

 private:
  absl::Mutex mu_;
  int notified_steps_ ABSL_GUARDED_BY(mu_) = 0;
  int checks_ ABSL_GUARDED_BY(mu_) = 0;
  bool hold_ ABSL_GUARDED_BY(mu_) = false;
  bool running_ ABSL_GUARDED_BY(mu_) = false;
  Next next_ ABSL_GUARDED_BY(mu_) = Next::kPark;
  std::optional<absl::Time> next_check_ ABSL_GUARDED_BY(mu_);
};

// Waits until `n` waiters are parked: a counted step has not parked its
// waiter yet, and a NotifyOne prefers a parked waiter to a stepping one.
bool AwaitParked(const WaitRoom& room, int n) {
  for (absl::Time end = absl::Now() + absl::Seconds(10); absl::Now() < end;) {
    if (room.parked() == n) return true;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return false;
}

WaitRoom::Options SmallRoom(Clock* clock) {
  return {.service = "test",
          .max_waiters = 3,
          .max_per_owner = 2,
          .threads = 2,
          .tick = absl::Milliseconds(200),
          .clock = clock,
          .metrics = nullptr};
}

TEST(WaitRoomTest, AJoinedWaiterStepsOnceAndAgainOnlyWhenItsKeyIsNotified) {
  ManualClock clock;
  WaitRoom room(SmallRoom(&clock));
  auto w = std::make_shared<RecordingWaiter>();
  ASSERT_TRUE(room.Join(w, {"alice"}, "alice").ok());
  ASSERT_TRUE(w->AwaitSteps(1));
  room.Notify("bob");
  room.Notify("alice");
  ASSERT_TRUE(w->AwaitSteps(2));
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(w->notified_steps(), 2);
  room.NotifyOne("alice");
  ASSERT_TRUE(w->AwaitSteps(3));
  room.Leave(w.get());
  EXPECT_EQ(room.size(), 0);
}

// The race a push stream must not lose: a commit notified while the waiter
// is reading (and found nothing yet) steps it again afterwards.
TEST(WaitRoomTest, ANotifyDuringARunningStepStepsItAgain) {
  ManualClock clock;
  WaitRoom room(SmallRoom(&clock));
  auto w = std::make_shared<RecordingWaiter>();
  w->Hold();
  ASSERT_TRUE(room.Join(w, {"k"}, "o").ok());
  w->AwaitRunning();
  room.Notify("k");
  w->Release();
  EXPECT_TRUE(w->AwaitSteps(2));
  room.Leave(w.get());
}

TEST(WaitRoomTest, AWriteThatFinishesBeforeItsStepReturnsIsNotLost) {
  ManualClock clock;
  WaitRoom room(SmallRoom(&clock));
  auto w = std::make_shared<RecordingWaiter>();
  w->SetNext(Waiter::Next::kBusy);
  w->Hold();
  ASSERT_TRUE(room.Join(w, {"k"}, "o").ok());
  w->AwaitRunning();
  room.Resume(w.get());  // the write's OnWriteDone, before Step returned kBusy
  w->Release();
  EXPECT_TRUE(w->AwaitSteps(2));
  room.Leave(w.get());
}

// A waiter writing (kBusy) takes a NotifyOne when nobody is parked; if its
// write then finishes its call (a WaitingCall answered from the commit
// thread, never stepped again), Leave passes the notification on.
TEST(WaitRoomTest, ANotifyOneTakenWhileWritingIsPassedOnWhenTheWriterLeaves) {
  ManualClock clock;
  WaitRoom room(SmallRoom(&clock));
  auto writer = std::make_shared<RecordingWaiter>();
  writer->SetNext(Waiter::Next::kBusy);
  ASSERT_TRUE(room.Join(writer, {"k"}, "a").ok());
  ASSERT_TRUE(writer->AwaitSteps(1));
  room.NotifyOne("k");  // nobody is parked: the writer, busy, takes it
  auto parked = std::make_shared<RecordingWaiter>();
  ASSERT_TRUE(room.Join(parked, {"k"}, "b").ok());
  ASSERT_TRUE(parked->AwaitSteps(1));
  room.Leave(writer.get());  // answered from its write's thread
  EXPECT_TRUE(parked->AwaitSteps(2));
  EXPECT_EQ(writer->notified_steps(), 1);
  room.Leave(parked.get());
}

// NotifyOne wakes the waiter that joined first, and only it; passed on,
// the notification wakes the next.
TEST(WaitRoomTest, NotifyOneWakesOneWaiterInTheOrderTheyJoined) {
  ManualClock clock;
  WaitRoom room(SmallRoom(&clock));
  auto first = std::make_shared<RecordingWaiter>();
  auto second = std::make_shared<RecordingWaiter>();
  ASSERT_TRUE(room.Join(first, {"build"}, "a").ok());
  ASSERT_TRUE(first->AwaitSteps(1));
  ASSERT_TRUE(room.Join(second, {"build", "test"}, "b").ok());
  ASSERT_TRUE(second->AwaitSteps(1));
  ASSERT_TRUE(AwaitParked(room, 2));
  room.NotifyOne("build");
  ASSERT_TRUE(first->AwaitSteps(2));
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(second->notified_steps(), 1);
  ASSERT_TRUE(AwaitParked(room, 2));
  room.NotifyOne("test");
  ASSERT_TRUE(second->AwaitSteps(2));
  room.PassOn(second.get());  // as if `second` went away after being woken
  ASSERT_TRUE(first->AwaitSteps(3));
  room.Leave(first.get());
  room.Leave(second.get());
}

// Two NotifyOnes while the only waiter is stepping: neither is lost (one
// marks it, the other is owed and taken when it parks), so two items get
// two attempts.
TEST(WaitRoomTest, NotifyOnesWhileEveryWaiterIsSteppingAreNotLost) {
  ManualClock clock;
  WaitRoom room(SmallRoom(&clock));
  auto w = std::make_shared<RecordingWaiter>();
  w->Hold();
  ASSERT_TRUE(room.Join(w, {"build"}, "a").ok());
  w->AwaitRunning();
  room.NotifyOne("build");
  room.NotifyOne("build");
  w->Release();
  EXPECT_TRUE(w->AwaitSteps(3));
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(w->notified_steps(), 3);
  room.Leave(w.get());
}

// A WaitingCall answered from its write's thread leaves before its client
// sees the answer, and again at OnDone: the first Leave frees the owner's
// place at once, the second does nothing.
TEST(WaitRoomTest, LeavingTwiceFreesThePlaceOnceAndAtTheFirstLeave) {
  ManualClock clock;
  WaitRoom room(SmallRoom(&clock));
  auto a = std::make_shared<RecordingWaiter>();
  auto b = std::make_shared<RecordingWaiter>();
  ASSERT_TRUE(room.Join(a, {"k"}, "alice").ok());
  ASSERT_TRUE(room.Join(b, {"k"}, "alice").ok());
  EXPECT_EQ(room.Join(std::make_shared<RecordingWaiter>(), {"k"}, "alice").code(),
            absl::StatusCode::kResourceExhausted);
  room.Leave(a.get());
  auto c = std::make_shared<RecordingWaiter>();
  EXPECT_TRUE(room.Join(c, {"k"}, "alice").ok());
  room.Leave(a.get());  // OnDone
  EXPECT_EQ(room.size(), 2);
  EXPECT_EQ(room.Join(std::make_shared<RecordingWaiter>(), {"k"}, "alice").code(),
            absl::StatusCode::kResourceExhausted);
  room.Leave(b.get());
  room.Leave(c.get());
  EXPECT_EQ(room.size(), 0);
}

TEST(WaitRoomTest, LimitsPerOwnerAndPerRoomAreResourceExhausted) {
  ManualClock clock;
  WaitRoom room(SmallRoom(&clock));
  std::vector<std::shared_ptr<RecordingWaiter>> ws;
  for (int i = 0; i < 4; ++i) ws.push_back(std::make_shared<RecordingWaiter>());
  ASSERT_TRUE(room.Join(ws[0], {"k"}, "alice").ok());
  ASSERT_TRUE(room.Join(ws[1], {"k"}, "alice").ok());
  absl::Status owner = room.Join(ws[2], {"k"}, "alice");
  EXPECT_EQ(owner.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(owner.message(), HasSubstr("alice already has 2"));
  ASSERT_TRUE(room.Join(ws[2], {"k"}, "bob").ok());
  absl::Status full = room.Join(ws[3], {"k"}, "carol");
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(full.message(), HasSubstr("already has 3"));
  room.Leave(ws[0].get());
  EXPECT_TRUE(room.Join(ws[3], {"k"}, "alice").ok());
  for (int i = 1; i < 4; ++i) room.Leave(ws[i].get());
  EXPECT_EQ(room.size(), 0);
}

TEST(WaitRoomTest, ParkedWaitersAreCheckedWhenTheirNextCheckComes) {
  ManualClock clock;
  WaitRoom room(SmallRoom(&clock));
  auto w = std::make_shared<RecordingWaiter>();
  w->SetNext(Waiter::Next::kPark, clock.Now() + absl::Seconds(5));
  ASSERT_TRUE(room.Join(w, {"k"}, "o").ok());
  ASSERT_TRUE(w->AwaitSteps(1));
  clock.Advance(absl::Seconds(1));
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(w->checks(), 0);
  w->SetNext(Waiter::Next::kDone);
  clock.Advance(absl::Seconds(5));
  EXPECT_TRUE(w->AwaitSteps(1, 1));
  // kDone: the room forgot it.
  for (int i = 0; i < 100 && room.size() > 0; ++i) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_EQ(room.size(), 0);
}

}  // namespace
}  // namespace agentcom::server
