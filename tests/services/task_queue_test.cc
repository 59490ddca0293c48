// TaskQueue (issue 3): every RPC, priorities, leases on a manual clock,
// retries into dead letter and back, idempotent submit, concurrent Assign,
// crash between the two tables, bad input.
#include "services/task_queue/task_queue.h"

#include <atomic>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/server/api_checks.h"
#include "common/storage/records.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_support.h"

namespace agentcom::task_queue {
namespace {

using ::testing::HasSubstr;

class TaskQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    limits_.set_max_body_bytes(1024);
    limits_.set_max_id_bytes(64);
    queue_table_ = testing::OpenTestTable(dir_.path(), kQueueTable);
    dead_table_ = testing::OpenTestTable(dir_.path(), kDeadLetterTable);
    q_ = std::make_unique<TaskQueue>(queue_table_.get(), dead_table_.get(), limits_, &clock_);
  }
  std::string Submit(const std::string& type, int priority = 0, uint32_t max_attempts = 0,
                     const std::string& key = "") {
    v1::SubmitRequest r;
    r.set_type(type);
    r.set_payload("payload");
    r.set_priority(priority);
    r.set_max_attempts(max_attempts);
    r.set_idempotency_key(key);
    auto s = q_->Submit(r);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? s->id() : "";
  }
  absl::StatusOr<v1::Task> Assign(const std::string& agent, std::vector<std::string> types,
                                  uint32_t lease = 30) {
    v1::AssignRequest r;
    r.set_agent_id(agent);
    for (auto& t : types) r.add_types(t);
    r.set_lease_seconds(lease);
    return q_->Assign(r);
  }
  absl::StatusOr<v1::Task> Fail(const std::string& id, const std::string& agent) {
    v1::FailRequest r;
    r.set_id(id);
    r.set_agent_id(agent);
    r.set_error("boom");
    return q_->Fail(r);
  }
  absl::StatusOr<v1::Task> Complete(const std::string& id, const std::string& agent) {
    v1::CompleteRequest r;
    r.set_id(id);
    r.set_agent_id(agent);
    r.set_result("done");
    return q_->Complete(r);
  }
  v1::Task Get(const std::string& id) {
    v1::GetRequest r;
    r.set_id(id);
    auto t = q_->Get(r);
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? *t : v1::Task();
  }
  std::vector<std::string> ListIds(v1::TaskStatus status, uint32_t page_size = 0) {
    std::vector<std::string> ids;
    v1::ListRequest r;
    r.set_status(status);
    r.set_page_size(page_size);
    do {
      auto page = q_->List(r);
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok()) break;
      for (const auto& t : page->tasks()) ids.push_back(t.id());
      r.set_page_token(page->next_page_token());
    } while (!r.page_token().empty());
    return ids;
  }

  // `got` holds each agent's assigned ids: `n` in all, none twice.
  static void ExpectEachAssignedOnce(const std::vector<std::vector<std::string>>& got, size_t n) {
    std::set<std::string> all;
    size_t total = 0;
    for (const auto& g : got) {
      total += g.size();
      all.insert(g.begin(), g.end());
    }
    EXPECT_EQ(total, n);
    EXPECT_EQ(all.size(), n);
  }

  testing::TempDir dir_;
  topology::v1::Limits limits_;
  ManualClock clock_;
  std::unique_ptr<storage::Table> queue_table_, dead_table_;
  std::unique_ptr<TaskQueue> q_;
};

TEST_F(TaskQueueTest, AssignTakesHighestPriorityThenOldestAcrossTypes) {
  const std::string low = Submit("email", 1);
  clock_.Advance(absl::Seconds(1));
  const std::string high_new = Submit("email", 5);
  clock_.Advance(absl::Seconds(1));
  const std::string high_newer = Submit("sms", 5);
  const std::string other = Submit("fax", 100);

  auto first = Assign("a1", {"email", "sms"});
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->id(), high_new);
  EXPECT_EQ(first->status(), v1::TASK_STATUS_LEASED);
  EXPECT_EQ(first->agent_id(), "a1");
  EXPECT_EQ(first->attempts(), 1u);
  EXPECT_EQ(Assign("a1", {"email", "sms"})->id(), high_newer);
  EXPECT_EQ(Assign("a1", {"sms", "email"})->id(), low);
  auto none = Assign("a1", {"email", "sms"});
  EXPECT_EQ(none.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(none.status().message(), HasSubstr("email, sms"));
  EXPECT_EQ(Get(other).status(), v1::TASK_STATUS_QUEUED);
}

TEST_F(TaskQueueTest, CompleteAndFailRequireTheLeaseHolder) {
  const std::string id = Submit("t");
  ASSERT_TRUE(Assign("a1", {"t"}).ok());
  EXPECT_EQ(Complete(id, "a2").status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Fail(id, "a2").status().code(), absl::StatusCode::kFailedPrecondition);
  auto done = Complete(id, "a1");
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->status(), v1::TASK_STATUS_COMPLETED);
  EXPECT_EQ(Get(id).result(), "done");
  auto again = Complete(id, "a1");
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(again.status().message(), HasSubstr("TASK_STATUS_COMPLETED"));
  EXPECT_EQ(Complete("task-missing", "a1").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(TaskQueueTest, AnExpiredLeaseReturnsTheTask) {
  const std::string id = Submit("t");
  ASSERT_EQ(Assign("a1", {"t"}, 10)->id(), id);
  clock_.Advance(absl::Seconds(9));
  EXPECT_EQ(Assign("a2", {"t"}).status().code(), absl::StatusCode::kNotFound);
  clock_.Advance(absl::Seconds(2));
  auto retaken = Assign("a2", {"t"});
  ASSERT_TRUE(retaken.ok()) << retaken.status();
  EXPECT_EQ(retaken->id(), id);
  EXPECT_EQ(retaken->attempts(), 2u);
  ASSERT_EQ(retaken->errors_size(), 1);
  EXPECT_EQ(retaken->errors(0).error(), "lease expired");
  EXPECT_EQ(retaken->errors(0).agent_id(), "a1");
  // The first holder lost it.
  EXPECT_EQ(Complete(id, "a1").status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Complete(id, "a2").ok());
}

TEST_F(TaskQueueTest, ExpireLeasesRunsWithoutAnAssign) {
  const std::string id = Submit("t");
  ASSERT_TRUE(Assign("a1", {"t"}, 5).ok());
  clock_.Advance(absl::Seconds(6));
  EXPECT_EQ(*q_->ExpireLeases(), 1);
  EXPECT_EQ(Get(id).status(), v1::TASK_STATUS_QUEUED);
  EXPECT_EQ(*q_->ExpireLeases(), 0);
}

// The queue remembers when the next lease expires instead of scanning the
// lease index on every call: leases longer than its look-ahead, shorter
// ones taken after a scan, and leases completed before they expire must
// all still be expired exactly when they end.
TEST_F(TaskQueueTest, LeasesExpireOnTimeWhateverTheirLengthAndOrder) {
  const std::string long_one = Submit("t");
  clock_.Advance(absl::Milliseconds(1));  // assigned oldest first
  const std::string short_one = Submit("t");
  clock_.Advance(absl::Milliseconds(1));
  const std::string done_early = Submit("t");
  ASSERT_EQ(Assign("a1", {"t"}, 3600)->id(), long_one);
  EXPECT_EQ(*q_->ExpireLeases(), 0);  // nothing due: looks no further than now + look-ahead
  ASSERT_EQ(Assign("a2", {"t"}, 30)->id(), short_one);
  ASSERT_EQ(Assign("a3", {"t"}, 20)->id(), done_early);
  ASSERT_TRUE(Complete(done_early, "a3").ok());
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(*q_->ExpireLeases(), 0);
  clock_.Advance(absl::Seconds(20));  // the completed lease's end: nothing to expire
  EXPECT_EQ(*q_->ExpireLeases(), 0);
  EXPECT_EQ(Get(done_early).status(), v1::TASK_STATUS_COMPLETED);
  clock_.Advance(absl::Seconds(9));  // 30 s: the short lease ends
  EXPECT_EQ(*q_->ExpireLeases(), 1);
  EXPECT_EQ(Get(short_one).status(), v1::TASK_STATUS_QUEUED);
  EXPECT_EQ(Get(long_one).status(), v1::TASK_STATUS_LEASED);
  clock_.Advance(kLeaseLookAhead * 3);
  EXPECT_EQ(*q_->ExpireLeases(), 0);
  ASSERT_EQ(Assign("a4", {"t"}, 1)->id(), short_one);  // one second, taken after a scan
  clock_.Advance(absl::Milliseconds(1001));
  EXPECT_EQ(*q_->ExpireLeases(), 1);
  EXPECT_EQ(Get(long_one).status(), v1::TASK_STATUS_LEASED);
  clock_.Advance(absl::Seconds(3600));
  EXPECT_EQ(*q_->ExpireLeases(), 1);
  EXPECT_EQ(Get(long_one).status(), v1::TASK_STATUS_QUEUED);
}

// A lease or a completion whose write fails changes nothing: the caller
// gets the error, the task stays as it was (queued, or leased to its
// holder), and nothing of the failed write lingers (the task is not left
// claimed, and the lease it did not get never expires).
TEST_F(TaskQueueTest, AFailedLeaseOrCompletionWriteLeavesTheTaskAsItWas) {
  testing::FailingTable failing(queue_table_.get());
  q_ = std::make_unique<TaskQueue>(&failing, dead_table_.get(), limits_, &clock_);
  const std::string id = Submit("t");
  failing.fail_writes = true;
  EXPECT_EQ(Assign("a1", {"t"}).status().code(), absl::StatusCode::kUnavailable);
  failing.fail_writes = false;
  EXPECT_EQ(Get(id).status(), v1::TASK_STATUS_QUEUED);
  auto leased = Assign("a2", {"t"});
  ASSERT_TRUE(leased.ok()) << leased.status();
  EXPECT_EQ(leased->id(), id);
  EXPECT_EQ(leased->attempts(), 1u);  // the failed lease was no attempt
  failing.fail_writes = true;
  EXPECT_EQ(Complete(id, "a2").status().code(), absl::StatusCode::kUnavailable);
  failing.fail_writes = false;
  EXPECT_EQ(Get(id).status(), v1::TASK_STATUS_LEASED);
  EXPECT_EQ(Get(id).agent_id(), "a2");
  EXPECT_TRUE(Complete(id, "a2").ok());
  EXPECT_EQ(Get(id).status(), v1::TASK_STATUS_COMPLETED);
  clock_.Advance(absl::Hours(1));
  EXPECT_EQ(*q_->ExpireLeases(), 0);
}

TEST_F(TaskQueueTest, MaxAttemptsMovesToDeadLetterAndRetryBringsItBack) {
  const std::string id = Submit("t", 0, 2);
  ASSERT_TRUE(Assign("a1", {"t"}).ok());
  auto first = Fail(id, "a1");
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->status(), v1::TASK_STATUS_QUEUED);
  ASSERT_TRUE(Assign("a2", {"t"}).ok());
  auto second = Fail(id, "a2");
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->status(), v1::TASK_STATUS_DEAD);
  ASSERT_EQ(second->errors_size(), 2);
  EXPECT_EQ(second->errors(1).agent_id(), "a2");

  EXPECT_FALSE(queue_table_->Get("t" + id)->has_value());
  EXPECT_EQ(Get(id).status(), v1::TASK_STATUS_DEAD);
  EXPECT_THAT(ListIds(v1::TASK_STATUS_DEAD), ::testing::ElementsAre(id));
  EXPECT_TRUE(ListIds(v1::TASK_STATUS_QUEUED).empty());
  EXPECT_EQ(Assign("a3", {"t"}).status().code(), absl::StatusCode::kNotFound);

  v1::RetryDeadLetterRequest retry;
  retry.set_id(id);
  auto back = q_->RetryDeadLetter(retry);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->status(), v1::TASK_STATUS_QUEUED);
  EXPECT_EQ(back->attempts(), 0u);
  EXPECT_EQ(back->errors_size(), 2);  // history kept
  EXPECT_TRUE(ListIds(v1::TASK_STATUS_DEAD).empty());
  EXPECT_EQ(Assign("a3", {"t"})->id(), id);
  EXPECT_EQ(q_->RetryDeadLetter(retry).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(TaskQueueTest, IdempotentSubmit) {
  const std::string id = Submit("t", 0, 0, "order-17");
  v1::SubmitRequest again;
  again.set_type("t");
  again.set_idempotency_key("order-17");
  auto r = q_->Submit(again);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->id(), id);
  EXPECT_FALSE(r->created());
  EXPECT_EQ(ListIds(v1::TASK_STATUS_QUEUED).size(), 1u);
}

// Submits write without the queue's lock: eight at once with one key still
// queue one task, and every caller gets its id.
TEST_F(TaskQueueTest, ConcurrentSubmitsWithOneIdempotencyKeyQueueOneTask) {
  std::vector<std::string> ids(8);
  std::atomic<int> created{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 8; ++c) {
    callers.emplace_back([&, c] {
      v1::SubmitRequest r;
      r.set_type("t");
      r.set_idempotency_key("order-17");
      auto out = q_->Submit(r);
      ASSERT_TRUE(out.ok()) << out.status();
      ids[c] = out->id();
      if (out->created()) ++created;
    });
  }
  for (auto& t : callers) t.join();
  EXPECT_EQ(created, 1);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 1u);
  EXPECT_EQ(ListIds(v1::TASK_STATUS_QUEUED), std::vector<std::string>{ids[0]});
}

// Assigns racing Submits that write without the lock: no task is left
// below a type's seek floor, so every submitted task is assigned once.
TEST_F(TaskQueueTest, TasksSubmittedWhileAgentsAssignAreAllAssignedOnce) {
  testing::FailingTable slow(queue_table_.get());
  slow.write_delay_ms = 2;
  q_ = std::make_unique<TaskQueue>(&slow, dead_table_.get(), limits_, &clock_);
  std::atomic<bool> submitting{true};
  std::vector<std::thread> submitters;
  for (int s = 0; s < 4; ++s) {
    submitters.emplace_back([&, s] {
      for (int i = 0; i < 100; ++i) Submit("t", (s * 100 + i) % 11 - 5);
    });
  }
  std::vector<std::vector<std::string>> got(4);
  std::vector<std::thread> agents;
  for (int a = 0; a < 4; ++a) {
    agents.emplace_back([&, a] {
      while (true) {
        const bool more = submitting;
        auto t = Assign(absl::StrCat("agent", a), {"t"});
        if (t.ok()) {
          got[a].push_back(t->id());
        } else if (!more) {
          break;  // nothing queued after the last Submit returned
        }
      }
    });
  }
  for (auto& t : submitters) t.join();
  submitting = false;
  for (auto& t : agents) t.join();
  ExpectEachAssignedOnce(got, 400);
  q_.reset();
}

// Every transition writes without the queue's lock (writes slowed to widen
// the windows): agents assigning, completing and failing at once while
// leases expire under them and dead letters are retried. Each task ends
// completed exactly once or dead, no lease is given twice, and nothing is
// stuck queued or leased below a seek floor.
TEST_F(TaskQueueTest, ConcurrentTransitionsWithExpiringLeasesKeepEveryTaskConsistent) {
  testing::FailingTable slow(queue_table_.get());
  slow.write_delay_ms = 1;
  q_ = std::make_unique<TaskQueue>(&slow, dead_table_.get(), limits_, &clock_);
  constexpr int kTasks = 150;
  for (int i = 0; i < kTasks; ++i) Submit("t", i % 5, 2);
  std::atomic<bool> stop{false};
  std::atomic<int> completed{0};
  std::vector<std::thread> agents;
  for (int a = 0; a < 4; ++a) {
    agents.emplace_back([&, a] {
      const std::string agent = absl::StrCat("agent", a);
      for (int n = 0; !stop; ++n) {
        auto t = Assign(agent, {"t"});
        if (!t.ok()) {
          absl::SleepFor(absl::Milliseconds(1));
          continue;
        }
        EXPECT_EQ(t->status(), v1::TASK_STATUS_LEASED);
        // Some leases are left to expire; the rest completed or failed.
        if (n % 7 == 3) continue;
        // Leases last about three expirer rounds (60 ms): some answers
        // arrive while the lease is being expired.
        absl::SleepFor(absl::Milliseconds((n % 5) * 12));
        auto done = (n % 3 == 0) ? Fail(t->id(), agent) : Complete(t->id(), agent);
        if (done.ok() && done->status() == v1::TASK_STATUS_COMPLETED) ++completed;
        // A lease that expired meanwhile is no longer held: not an error.
        if (!done.ok()) {
          EXPECT_EQ(done.status().code(), absl::StatusCode::kFailedPrecondition);
        }
      }
    });
  }
  std::thread expirer([&] {
    while (!stop) {
      clock_.Advance(absl::Seconds(11));  // leases are 30 s: some expire
      EXPECT_TRUE(q_->ExpireLeases().ok());
      for (const std::string& id : ListIds(v1::TASK_STATUS_DEAD)) {
        v1::RetryDeadLetterRequest r;
        r.set_id(id);
        (void)q_->RetryDeadLetter(r);  // may race an earlier retry: NOT_FOUND
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
  });
  // Runs until every task has been completed.
  for (int i = 0; i < 3000 && ListIds(v1::TASK_STATUS_COMPLETED).size() < kTasks; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  stop = true;
  for (auto& t : agents) t.join();
  expirer.join();
  EXPECT_EQ(ListIds(v1::TASK_STATUS_COMPLETED).size(), static_cast<size_t>(kTasks));
  EXPECT_EQ(completed, kTasks);  // each completed once
  EXPECT_TRUE(ListIds(v1::TASK_STATUS_QUEUED).empty());
  EXPECT_TRUE(ListIds(v1::TASK_STATUS_LEASED).empty());
  EXPECT_TRUE(ListIds(v1::TASK_STATUS_DEAD).empty());
  q_.reset();
}

TEST_F(TaskQueueTest, TwoAgentsAssigningAtOnceNeverGetTheSameTask) {
  for (int i = 0; i < 200; ++i) Submit("t", i % 7);
  std::vector<std::vector<std::string>> got(4);
  std::vector<std::thread> agents;
  for (int a = 0; a < 4; ++a) {
    agents.emplace_back([&, a] {
      while (true) {
        auto t = Assign(absl::StrCat("agent", a), {"t"});
        if (!t.ok()) break;
        got[a].push_back(t->id());
      }
    });
  }
  for (auto& t : agents) t.join();
  ExpectEachAssignedOnce(got, 200);
  EXPECT_EQ(ListIds(v1::TASK_STATUS_LEASED, 7).size(), 200u);
}

TEST_F(TaskQueueTest, ACrashBetweenTheTablesIsFinishedByRecover) {
  auto failing_dead = std::make_unique<testing::FailingTable>(dead_table_.get());
  TaskQueue crashing(queue_table_.get(), failing_dead.get(), limits_, &clock_);
  v1::SubmitRequest s;
  s.set_type("t");
  s.set_max_attempts(1);
  const std::string id = crashing.Submit(s)->id();
  v1::AssignRequest a;
  a.set_agent_id("a1");
  a.add_types("t");
  ASSERT_TRUE(crashing.Assign(a).ok());
  failing_dead->fail_writes = true;
  v1::FailRequest f;
  f.set_id(id);
  f.set_agent_id("a1");
  f.set_error("boom");
  EXPECT_EQ(crashing.Fail(f).status().code(), absl::StatusCode::kUnavailable);

  // Restart: Recover completes the move; the task is in exactly one table.
  TaskQueue restarted(queue_table_.get(), dead_table_.get(), limits_, &clock_);
  ASSERT_TRUE(restarted.Recover().ok());
  EXPECT_FALSE(queue_table_->Get("t" + id)->has_value());
  v1::GetRequest g;
  g.set_id(id);
  EXPECT_EQ(restarted.Get(g)->status(), v1::TASK_STATUS_DEAD);
}

TEST_F(TaskQueueTest, ListPagesAndRejectsForeignTokens) {
  for (int i = 0; i < 5; ++i) {
    Submit("t");
    clock_.Advance(absl::Milliseconds(1));
  }
  EXPECT_EQ(ListIds(v1::TASK_STATUS_QUEUED, 2).size(), 5u);
  v1::ListRequest r;
  r.set_status(v1::TASK_STATUS_QUEUED);
  r.set_page_size(2);
  auto page = q_->List(r);
  ASSERT_FALSE(page->next_page_token().empty());
  r.set_status(v1::TASK_STATUS_COMPLETED);
  r.set_page_token(page->next_page_token());
  EXPECT_EQ(q_->List(r).status().code(), absl::StatusCode::kInvalidArgument);
  r.set_status(v1::TASK_STATUS_QUEUED);
  r.set_page_token("AAAA");
  EXPECT_EQ(q_->List(r).status().code(), absl::StatusCode::kInvalidArgument);
  r.set_page_token(storage::EncodePageToken("TASK_STATUS_QUEUED", "zz-outside"));
  EXPECT_EQ(q_->List(r).status().code(), absl::StatusCode::kInvalidArgument);
  v1::ListRequest unspecified;
  EXPECT_EQ(q_->List(unspecified).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(TaskQueueTest, BadInputIsRejectedAndWritesNothing) {
  auto submit = [&](auto mutate) {
    v1::SubmitRequest r;
    r.set_type("t");
    mutate(r);
    return q_->Submit(r).status().code();
  };
  EXPECT_EQ(submit([](auto& r) { r.set_type(""); }), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(submit([](auto& r) { r.set_type("has space"); }), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(submit([](auto& r) { r.set_payload(std::string(1025, 'p')); }),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(submit([](auto& r) { r.set_priority(5000); }), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(submit([](auto& r) { r.set_max_attempts(1000); }), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(submit([](auto& r) { r.set_idempotency_key(std::string(65, 'k')); }),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(queue_table_->Stats().records(), 0u);

  EXPECT_EQ(Assign("", {"t"}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Assign("a", {}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Assign("a", {"t"}, 99999).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Complete("", "a").status().code(), absl::StatusCode::kInvalidArgument);
  v1::FailRequest f;
  f.set_id("x");
  f.set_agent_id("a");
  f.set_error(std::string(5000, 'e'));
  EXPECT_EQ(q_->Fail(f).status().code(), absl::StatusCode::kInvalidArgument);
  v1::GetRequest g;
  g.set_id("../etc");
  EXPECT_EQ(q_->Get(g).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace agentcom::task_queue
