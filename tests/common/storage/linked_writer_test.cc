// Two-table changes survive a crash between the tables (issue 3).
#include "common/storage/linked_writer.h"

#include "gtest/gtest.h"
#include "tests/support/test_support.h"

namespace agentcom::storage {
namespace {

TEST(LinkedWriterTest, AppliesBothHalvesAndLeavesNoIntent) {
  testing::TempDir dir;
  auto a = testing::OpenTestTable(dir.path(), "a");
  auto b = testing::OpenTestTable(dir.path(), "b");
  LinkedWriter w(a.get(), b.get());
  TableBatch first, second;
  first.Delete("task");
  second.Put("task", "dead");
  ASSERT_TRUE(a->Put("task", "queued").ok());
  ASSERT_TRUE(w.Apply(first, second).ok());
  EXPECT_FALSE(a->Get("task")->has_value());
  EXPECT_EQ(**b->Get("task"), "dead");
  EXPECT_EQ(a->Stats().records(), 0u);  // no intent left behind
  EXPECT_EQ(*w.Recover(), 0);
}

TEST(LinkedWriterTest, RecoverFinishesAChangeInterruptedBetweenTheTables) {
  testing::TempDir dir;
  {
    auto a = testing::OpenTestTable(dir.path(), "a");
    auto b_real = testing::OpenTestTable(dir.path(), "b");
    testing::FailingTable b(b_real.get());
    ASSERT_TRUE(a->Put("task", "queued").ok());
    b.fail_writes = true;  // the process "dies" after the first table's batch
    TableBatch first, second;
    first.Delete("task");
    second.Put("task", "dead");
    second.Delete("stale");
    ASSERT_TRUE(b_real->Put("stale", "x").ok());
    EXPECT_EQ(LinkedWriter(a.get(), &b).Apply(first, second).code(),
              absl::StatusCode::kUnavailable);
    EXPECT_FALSE(a->Get("task")->has_value());
    EXPECT_FALSE(b_real->Get("task")->has_value());  // half done, for now
  }
  // Start-up after the crash.
  auto a = testing::OpenTestTable(dir.path(), "a");
  auto b = testing::OpenTestTable(dir.path(), "b");
  LinkedWriter w(a.get(), b.get());
  EXPECT_EQ(*w.Recover(), 1);
  EXPECT_EQ(**b->Get("task"), "dead");
  EXPECT_FALSE(b->Get("stale")->has_value());
  EXPECT_EQ(a->Stats().records(), 0u);
  EXPECT_EQ(*w.Recover(), 0);  // idempotent
}

}  // namespace
}  // namespace agentcom::storage
