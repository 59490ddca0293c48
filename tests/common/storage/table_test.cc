// The LevelDB table engine (issue 2, item 5): operations, exact counts,
// fragmentation, durability across a crash, corruption on disk, I/O errors.
#include "common/storage/table.h"

#include <leveldb/db.h>
#include <leveldb/env.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "common/storage/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/faulty_env.h"
#include "tests/support/test_support.h"

namespace agentcom::storage {
namespace {

using common::v1::DURABILITY_BUFFERED;
using common::v1::DURABILITY_SYNC;
using common::v1::TABLE_STATE_CORRUPTED;
using common::v1::TABLE_STATE_DEGRADED;
using common::v1::TABLE_STATE_OK;
using ::testing::HasSubstr;

class RecordingListener : public CorruptionListener {
 public:
  void OnCorruption(const std::string& table, const std::string& reason,
                    std::optional<uint64_t> records) override {
    absl::MutexLock l(&mu_);
    calls_.push_back(table + ": " + reason);
    records_.push_back(records);
  }
  std::vector<std::optional<uint64_t>> records() {
    absl::MutexLock l(&mu_);
    return records_;
  }
  std::vector<std::string> calls() {
    absl::MutexLock l(&mu_);
    return calls_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> calls_;
  std::vector<std::optional<uint64_t>> records_;
};

using testing::FaultyEnv;

class TableTest : public ::testing::Test {
 protected:
  std::unique_ptr<Table> Open(common::v1::Durability durability = DURABILITY_SYNC,
                              leveldb::Env* env = nullptr,
                              const std::string& name = "agent_mailbox") {
    TableOptions o;
    o.name = name;
    o.dir = dir_.Sub(name);
    o.storage.set_durability(durability);
    o.storage.set_flush_interval_ms(20);
    o.storage.set_block_cache_mb(8);
    o.storage.set_write_buffer_mb(4);
    o.storage.set_max_open_files(100);
    o.env = env;
    o.listener = &listener_;
    auto t = OpenTable(o);
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? *std::move(t) : nullptr;
  }

  static std::string Key(int i) { return absl::StrFormat("key%08d", i); }
  static std::string Value(int i, int gen = 0) {
    return absl::StrCat("value-", i, "-", gen, "-", std::string(180, 'x'));
  }
  // The table's counts equal what a scan finds.
  static void ExpectExactCounts(Table* t) {
    uint64_t scanned = 0, bytes = 0;
    ASSERT_TRUE(t->Scan("", "", [&](absl::string_view k, absl::string_view v) {
                   ++scanned;
                   bytes += k.size() + v.size() + internal::kRecordOverheadBytes;
                   return true;
                 }).ok());
    TableStats s = t->Stats();
    EXPECT_EQ(s.records(), scanned);
    EXPECT_EQ(s.live_bytes(), bytes);
  }
  static void Load(Table* t, int n, int gen = 0) {
    for (int i = 0; i < n; i += 100) {
      TableBatch b;
      for (int j = i; j < std::min(n, i + 100); ++j) b.Put(Key(j), Value(j, gen));
      ASSERT_TRUE(t->Write(b).ok());
    }
  }

  testing::TempDir dir_;
  RecordingListener listener_;
};

// A directory that vanished is a lost table when anything shows it held
// data; it is served empty only when nothing does (a new table).
TEST_F(TableTest, AMissingDirectoryIsALostTableWhenItsSequenceBoundShowsItHeldData) {
  auto t = Open();
  ASSERT_TRUE(t->NextSequence(0).ok());  // writes <data>/.agent_mailbox.sequence-bound
  ASSERT_TRUE(t->Put("k", "v").ok());
  t.reset();
  std::filesystem::remove_all(dir_.Sub("agent_mailbox"));
  t = Open();
  EXPECT_EQ(t->state(), TABLE_STATE_CORRUPTED);
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub("agent_mailbox")));  // nothing created
  ASSERT_EQ(listener_.calls().size(), 1u);
  EXPECT_THAT(listener_.calls()[0], HasSubstr("is missing, but it has issued sequence numbers"));
  EXPECT_EQ(t->Get("k").status().code(), absl::StatusCode::kUnavailable);

  auto fresh = Open(DURABILITY_SYNC, nullptr, "agent_channels");  // never existed
  EXPECT_EQ(fresh->state(), TABLE_STATE_OK);
}

TEST_F(TableTest, AMissingDirectoryIsALostTableWhenItsLogsWereShipped) {
  auto open = [&] {
    TableOptions o;
    o.name = "agentcom_config";
    o.dir = dir_.Sub("agentcom_config");
    o.storage.set_durability(DURABILITY_SYNC);
    o.storage.set_block_cache_mb(8);
    o.storage.set_write_buffer_mb(4);
    o.storage.set_max_open_files(100);
    o.storage.set_wal_ship_interval_ms(10);
    o.wal_ship_root = dir_.Sub("backups/agentcom_config/wal");
    o.listener = &listener_;
    return *OpenTable(o);
  };
  auto t = open();
  ASSERT_TRUE(t->Put("k", "v").ok());
  auto shipped = [&] {
    std::error_code ec;
    for (const auto& e : std::filesystem::recursive_directory_iterator(
             dir_.Sub("backups/agentcom_config/wal"), ec)) {
      if (e.path().extension() == ".log" && e.file_size() > 0) return true;
    }
    return false;
  };
  for (int i = 0; i < 500 && !shipped(); ++i) absl::SleepFor(absl::Milliseconds(10));
  ASSERT_TRUE(shipped());
  t.reset();
  std::filesystem::remove_all(dir_.Sub("agentcom_config"));
  t = open();
  EXPECT_EQ(t->state(), TABLE_STATE_CORRUPTED);
  ASSERT_EQ(listener_.calls().size(), 1u);
  EXPECT_THAT(listener_.calls()[0], HasSubstr("its write-ahead logs were shipped to"));
}

TEST_F(TableTest, PutGetDeleteScan) {
  auto t = Open();
  EXPECT_EQ(t->name(), "agent_mailbox");
  ASSERT_TRUE(t->Put("b", "2").ok());
  ASSERT_TRUE(t->Put("a", "1").ok());
  ASSERT_TRUE(t->Put("c", "3").ok());
  EXPECT_EQ(**t->Get("a"), "1");
  EXPECT_FALSE(t->Get("zz")->has_value());

  std::vector<std::string> seen;
  ASSERT_TRUE(t->Scan("b", "", [&](absl::string_view k, absl::string_view v) {
                 seen.push_back(absl::StrCat(k, "=", v));
                 return true;
               }).ok());
  EXPECT_THAT(seen, ::testing::ElementsAre("b=2", "c=3"));
  seen.clear();
  ASSERT_TRUE(t->Scan("a", "c", [&](absl::string_view k, absl::string_view) {
                 seen.emplace_back(k);
                 return true;
               }).ok());
  EXPECT_THAT(seen, ::testing::ElementsAre("a", "b"));
  seen.clear();
  ASSERT_TRUE(t->Scan("", "", [&](absl::string_view k, absl::string_view) {
                 seen.emplace_back(k);
                 return seen.size() < 2;
               }).ok());
  EXPECT_EQ(seen.size(), 2u);

  ASSERT_TRUE(t->Delete("b").ok());
  ASSERT_TRUE(t->Delete("never-there").ok());
  EXPECT_FALSE(t->Get("b")->has_value());
  EXPECT_EQ(t->Stats().records(), 2u);
}

TEST_F(TableTest, CountsAreExactThroughOverwritesDeletesAndBatches) {
  auto t = Open();
  ASSERT_TRUE(t->Put("k1", "aaaa").ok());
  ASSERT_TRUE(t->Put("k1", "bb").ok());  // overwrite: still one record
  TableBatch b;
  b.Put("k2", "x");
  b.Delete("k2");  // net nothing
  b.Put("k3", "yyy");
  b.Put("k3", "zz");  // later op wins
  b.Delete("absent");
  ASSERT_TRUE(t->Write(b).ok());
  TableStats s = t->Stats();
  EXPECT_EQ(s.records(), 2u);
  EXPECT_FALSE(t->Get("k2")->has_value());
  EXPECT_EQ(**t->Get("k3"), "zz");
  // live bytes: (2+2) + (2+2) plus the per-record overhead.
  EXPECT_EQ(s.live_bytes(), 8 + 2 * internal::kRecordOverheadBytes);
}

// Writers commit in groups (one fsync for many batches, no lock held across
// it): counts stay exact when the batches of one group touch the same keys,
// and every writer gets its own batch's result.
TEST_F(TableTest, CountsAreExactWhenConcurrentWritersShareAGroupCommit) {
  auto t = Open();
  std::vector<std::thread> writers;
  for (int w = 0; w < 8; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < 300; ++i) {
        TableBatch b;
        b.Put(Key(i % 50), Value(i, w));       // shared by every writer
        b.Put(Key(1000 + w * 1000 + i), "x");  // this writer's own
        if (i % 3 == 0) b.Delete(Key((i + 25) % 50));
        if (i % 5 == 0) b.Delete(Key(1000 + w * 1000 + i - 1));
        ASSERT_TRUE(t->Write(b).ok());
      }
    });
  }
  for (auto& th : writers) th.join();
  ExpectExactCounts(t.get());
  EXPECT_GT(t->Stats().records(), 8u * 240);
}

// Item 2 of issue 15: writes queued without waiting (WriteAsync) and
// blocking writes share the group commits; each caller's queued writes
// commit in the order queued; every callback gets its result once; the
// counts stay exact.
TEST_F(TableTest, AsyncWritesCommitInQueueOrderBesideBlockingWritersWithExactCounts) {
  auto t = Open();
  constexpr int kAsyncWriters = 4, kWrites = 300;
  absl::Mutex mu;
  std::vector<std::vector<int>> answered(kAsyncWriters);
  int failures = 0, out_of_order = 0, pending = kAsyncWriters * kWrites;
  std::vector<std::thread> writers;
  for (int w = 0; w < kAsyncWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < kWrites; ++i) {
        TableBatch b;
        b.Put(absl::StrCat("last/", w), absl::StrFormat("%06d", i));  // the order shows here
        b.Put(Key(i % 50), Value(i, w));                              // shared by every writer
        if (i % 4 == 0) b.Delete(Key((i + 25) % 50));
        t->WriteAsync(std::move(b), [&, w, i](absl::Status s) {
          // Committed: the table holds this write or a later one of the
          // same writer, never an earlier one (which would have committed
          // after it).
          auto last = t->Get(absl::StrCat("last/", w));
          absl::MutexLock l(&mu);
          if (!s.ok()) ++failures;
          if (!last.ok() || !last->has_value() || **last < absl::StrFormat("%06d", i)) {
            ++out_of_order;
          }
          answered[w].push_back(i);
          --pending;
        });
      }
    });
  }
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < 100; ++i) {
        TableBatch b;
        b.Put(Key(1000 + w * 1000 + i), "x");
        b.Put(Key(i % 50), Value(i, 10 + w));
        ASSERT_TRUE(t->Write(b).ok());
      }
    });
  }
  for (auto& th : writers) th.join();
  {
    absl::MutexLock l(&mu);
    mu.Await(absl::Condition(
        +[](int* p) { return *p == 0; }, &pending));
    EXPECT_EQ(failures, 0);
    EXPECT_EQ(out_of_order, 0);
    // Every write answered once. Answers of different commit groups may
    // come from different threads, so not necessarily in order.
    for (auto& v : answered) {
      std::sort(v.begin(), v.end());
      EXPECT_EQ(v.size(), static_cast<size_t>(kWrites));
      EXPECT_EQ(std::adjacent_find(v.begin(), v.end()), v.end());
    }
  }
  for (int w = 0; w < kAsyncWriters; ++w) {
    EXPECT_EQ(**t->Get(absl::StrCat("last/", w)), absl::StrFormat("%06d", kWrites - 1));
  }
  ExpectExactCounts(t.get());
}

// A write queued without waiting fails as a blocking one would: at once
// on a full disk (RESOURCE_EXHAUSTED) and on a table that does not serve.
TEST_F(TableTest, AsyncWritesFailLikeBlockingOnesOnAFullDiskAndAnUnservedTable) {
  FaultyEnv env;
  auto t = Open(DURABILITY_SYNC, &env);
  auto write_async = [&](const std::string& key) {
    TableBatch b;
    b.Put(key, "v");
    absl::Notification done;
    absl::Status result;
    t->WriteAsync(std::move(b), [&](absl::Status s) {
      result = s;
      done.Notify();
    });
    done.WaitForNotification();
    return result;
  };
  ASSERT_TRUE(write_async("a").ok());
  env.armed = true;
  EXPECT_EQ(write_async("b").code(), absl::StatusCode::kResourceExhausted);
  env.armed = false;
  // The table reopens on a fresh log (at most every 200 ms).
  absl::Status d;
  for (int i = 0; i < 20 && !(d = write_async("d")).ok(); ++i)
    absl::SleepFor(absl::Milliseconds(250));
  EXPECT_TRUE(d.ok()) << d;
  EXPECT_EQ(**t->Get("a"), "v");
  EXPECT_EQ(**t->Get("d"), "v");
  EXPECT_FALSE(t->Get("b")->has_value());
  EXPECT_EQ(t->Stats().records(), 2u);
  std::filesystem::remove(dir_.Sub("agent_mailbox/CURRENT"));
  ASSERT_TRUE(t->Reopen(false).ok());
  ASSERT_EQ(t->state(), TABLE_STATE_CORRUPTED);
  EXPECT_EQ(write_async("e").code(), absl::StatusCode::kUnavailable);
}

// A write queued without waiting, still queued when the table is closed
// (Reopen, a restore), is answered UNAVAILABLE and never applied to the
// table opened after it: an agent that was told to retry must not find the
// write there too (a second message under a new sequence number). The
// rounds hold the leading writer's sync so that the queued write is behind
// it while Reopen waits for the leader; the answer and the table must then
// agree in every round, whichever came first.
TEST_F(TableTest, AWriteQueuedWhenTheTableClosesIsRefusedAndNeverApplied) {
  FaultyEnv env;
  auto t = Open(DURABILITY_SYNC, &env);
  int refused = 0;
  for (int round = 0; round < 5; ++round) {
    env.HoldNextSync(".log");
    std::thread leader([&] {
      TableBatch b;
      b.Put(absl::StrCat("leader/", round), "v");
      EXPECT_TRUE(t->Write(b).ok());
    });
    env.AwaitHeldSync();  // the leader's group is committing
    const std::string queued_key = absl::StrCat("queued/", round);
    TableBatch b;
    b.Put(queued_key, "v");
    absl::Notification answered;
    absl::Status queued;
    t->WriteAsync(std::move(b), [&](absl::Status s) {
      queued = s;
      answered.Notify();
    });
    std::thread reopen([&] { EXPECT_TRUE(t->Reopen(false).ok()); });
    absl::SleepFor(absl::Milliseconds(100));  // Reopen now waits for the leader
    env.ReleaseSync();
    leader.join();
    reopen.join();
    answered.WaitForNotification();
    const bool applied = t->Get(queued_key)->has_value();
    if (queued.ok()) {
      EXPECT_TRUE(applied) << "round " << round;
    } else {
      EXPECT_EQ(queued.code(), absl::StatusCode::kUnavailable) << queued;
      EXPECT_THAT(queued.message(), HasSubstr("reopened while the write waited"));
      EXPECT_FALSE(applied) << "round " << round << ": refused, yet applied";
      ++refused;
    }
    EXPECT_TRUE(t->Get(absl::StrCat("leader/", round))->has_value());
  }
  // Reopen announced its close before the leader finished in (nearly)
  // every round, so the committer held the queued write back until the
  // table had closed, and it was refused.
  EXPECT_GT(refused, 0);
  ExpectExactCounts(t.get());
}

TEST_F(TableTest, CountsSurviveACleanReopen) {
  {
    auto t = Open();
    Load(t.get(), 1000);
    ASSERT_TRUE(t->Delete(Key(5)).ok());
  }
  auto t = Open();
  EXPECT_EQ(t->Stats().records(), 999u);
}

// A store process killed after acknowledging writes: the writes are there
// and the counts are recomputed (the checkpoint was marked dirty at open).
void CrashAfterWrites(const std::string& dir, common::v1::Durability durability) {
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    TableOptions o;
    o.name = "agent_mailbox";
    o.dir = dir;
    o.storage.set_durability(durability);
    o.storage.set_flush_interval_ms(10000);
    o.storage.set_block_cache_mb(8);
    o.storage.set_write_buffer_mb(4);
    o.storage.set_max_open_files(100);
    auto t = OpenTable(o);
    if (!t.ok()) _exit(2);
    for (int i = 0; i < 500; ++i) {
      if (!(*t)->Put(absl::StrFormat("key%08d", i), "acknowledged").ok()) _exit(3);
    }
    _exit(0);  // no destructor, no close, no flush
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
}

TEST_F(TableTest, AcknowledgedWritesSurviveAProcessCrashInBothModes) {
  for (auto mode : {DURABILITY_SYNC, DURABILITY_BUFFERED}) {
    SCOPED_TRACE(common::v1::Durability_Name(mode));
    const std::string name = absl::StrCat("t", static_cast<int>(mode));
    CrashAfterWrites(dir_.Sub(name), mode);
    auto t = Open(mode, nullptr, name);
    EXPECT_EQ(t->Stats().records(), 500u);
    EXPECT_EQ(**t->Get(Key(499)), "acknowledged");
  }
}

TEST_F(TableTest, FragmentationTracksReclaimableSpace) {
  auto t = Open();
  constexpr int kRecords = 30000;
  Load(t.get(), kRecords);
  // While LevelDB flushes a memtable, its data is on disk twice (the log
  // and the new table file) for a moment; slow builds (ThreadSanitizer)
  // can catch that moment.
  TableStats fresh = t->Stats();
  for (int i = 0; i < 100 && fresh.fragmentation_ratio() >= 0.1; ++i) {
    absl::SleepFor(absl::Milliseconds(100));
    fresh = t->Stats();
  }
  EXPECT_LT(fresh.fragmentation_ratio(), 0.1) << fresh.DebugString();

  Load(t.get(), kRecords, 1);
  Load(t.get(), kRecords, 2);
  for (int i = 0; i < kRecords; i += 2) {
    TableBatch b;
    b.Delete(Key(i));
    ASSERT_TRUE(t->Write(b).ok());
  }
  const TableStats churned = t->Stats();
  EXPECT_EQ(churned.records(), static_cast<uint64_t>(kRecords / 2));
  EXPECT_GT(churned.fragmentation_ratio(), 0.3) << churned.DebugString();

  ASSERT_TRUE(t->Compact().ok());
  const TableStats compacted = t->Stats();
  EXPECT_LT(compacted.fragmentation_ratio(), 0.05) << compacted.DebugString();
  EXPECT_LT(compacted.disk_bytes(), churned.disk_bytes());
  EXPECT_EQ(**t->Get(Key(1)), Value(1, 2));
}

TEST_F(TableTest, CompactKeepsServingReadsAndWrites) {
  auto t = Open();
  Load(t.get(), 20000);
  Load(t.get(), 20000, 1);
  std::atomic<bool> done{false};
  std::atomic<int> ops{0}, failures{0};
  std::thread client([&] {
    for (int i = 0; !done; ++i) {
      if (!t->Put(Key(100000 + i), "during").ok()) ++failures;
      if (!t->Get(Key(i % 20000)).ok()) ++failures;
      ++ops;
    }
  });
  ASSERT_TRUE(t->Compact().ok());
  done = true;
  client.join();
  EXPECT_EQ(failures, 0);
  EXPECT_GT(ops, 0);
}

TEST_F(TableTest, VerifyHashesTheDocumentedStream) {
  auto t = Open();
  ASSERT_TRUE(t->Put("b", "two").ok());
  ASSERT_TRUE(t->Put("a", "one").ok());
  auto v = t->Verify();
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->record_count, 2u);
  // varint32(len) key varint32(len) value, in key order.
  internal::Sha256 expected;
  expected.Update(
      std::string("\x01"
                  "a"
                  "\x03"
                  "one"
                  "\x01"
                  "b"
                  "\x03"
                  "two"));
  EXPECT_EQ(v->content_hash, expected.HexDigest());
}

TEST_F(TableTest, FlippedBytesOnDiskMarkTheTableCorruptedAndReportOnce) {
  {
    auto t = Open();
    Load(t.get(), 5000);
    ASSERT_TRUE(t->Compact().ok());  // everything into .ldb files
  }
  testing::FlipBytesInLargestTableFile(dir_.Sub("agent_mailbox"));
  auto t = Open();
  auto other = Open(DURABILITY_SYNC, nullptr, "agentcom_config");
  ASSERT_TRUE(other->Put("still", "serving").ok());

  absl::Status s = t->Scan("", "", [](absl::string_view, absl::string_view) { return true; });
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr("table agent_mailbox is corrupted"));
  EXPECT_EQ(t->state(), TABLE_STATE_CORRUPTED);
  EXPECT_EQ(t->Stats().state(), TABLE_STATE_CORRUPTED);
  EXPECT_THAT(t->Stats().state_reason(), HasSubstr("Corruption"));

  // Later calls fail fast, and the listener heard exactly once.
  EXPECT_EQ(t->Get(Key(1)).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(t->Put("new", "x").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(t->Verify().status().code(), absl::StatusCode::kUnavailable);
  ASSERT_EQ(listener_.calls().size(), 1u);
  EXPECT_THAT(listener_.calls()[0], HasSubstr("agent_mailbox: Corruption"));
  // The count the table held, for the restore to check against.
  EXPECT_EQ(listener_.records()[0], std::optional<uint64_t>(5000));

  // The other table is untouched.
  EXPECT_EQ(**other->Get("still"), "serving");
  EXPECT_EQ(other->state(), TABLE_STATE_OK);
}

// A corrupted table is abandoned at close (no checkpoint), so the next open
// recounts and meets the damage: the table opens CORRUPTED (and reported),
// and the open does not fail, so its store can start and serve the rest.
TEST_F(TableTest, ACorruptedTableFoundWhileRecountingOpensCorrupted) {
  {
    auto t = Open();
    Load(t.get(), 5000);
    ASSERT_TRUE(t->Compact().ok());
  }
  testing::FlipBytesInLargestTableFile(dir_.Sub("agent_mailbox"));
  {
    auto t = Open();
    EXPECT_EQ(t->Verify().status().code(), absl::StatusCode::kDataLoss);  // no checkpoint at close
  }
  auto t = Open();  // fails the test if the open fails
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->state(), TABLE_STATE_CORRUPTED);
  EXPECT_EQ(listener_.calls().size(), 2u);
}

TEST_F(TableTest, VerifyFindsCorruptionAsDataLoss) {
  {
    auto t = Open();
    Load(t.get(), 5000);
    ASSERT_TRUE(t->Compact().ok());
  }
  testing::FlipBytesInLargestTableFile(dir_.Sub("agent_mailbox"));
  auto t = Open();
  auto v = t->Verify();
  EXPECT_EQ(v.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(t->state(), TABLE_STATE_CORRUPTED);
  EXPECT_EQ(listener_.calls().size(), 1u);
}

TEST_F(TableTest, DiskFullIsResourceExhaustedAndNotCorruption) {
  FaultyEnv env;
  auto t = Open(DURABILITY_SYNC, &env);
  ASSERT_TRUE(t->Put("a", "1").ok());
  env.armed = true;
  absl::Status s = t->Put("b", "2");
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(s.message(), HasSubstr("table agent_mailbox: disk full"));
  EXPECT_EQ(t->state(), TABLE_STATE_OK);
  EXPECT_TRUE(listener_.calls().empty());
  EXPECT_EQ(**t->Get("a"), "1");
}

// Issue 8: a real full file system (tmpfs), not an injected error. Writes
// fail with RESOURCE_EXHAUSTED, nothing is reported as corruption, every
// acknowledged write stays readable, and writes succeed again once space is
// freed (the table reopens on a fresh log).
TEST_F(TableTest, ARealFullDiskRefusesWritesLosesNothingAndRecoversWhenFreed) {
  testing::TmpfsMount disk(dir_.Sub("disk"), 32);
  if (!disk.ok()) GTEST_SKIP() << disk.error();
  {
    std::ofstream filler(dir_.Sub("disk/filler"), std::ios::binary);
    const std::string mb(1 << 20, 'f');
    for (int i = 0; i < 16; ++i) filler << mb;
  }
  TableOptions o;
  o.name = "agent_mailbox";
  o.dir = dir_.Sub("disk/agent_mailbox");
  o.storage.set_durability(DURABILITY_SYNC);
  o.storage.set_block_cache_mb(8);
  o.storage.set_write_buffer_mb(4);
  o.storage.set_max_open_files(100);
  o.listener = &listener_;
  auto opened = OpenTable(o);
  ASSERT_TRUE(opened.ok()) << opened.status();
  std::unique_ptr<Table> t = *std::move(opened);

  int acked = 0;
  absl::Status full;
  while (acked < 100000) {
    full = t->Put(Key(acked), std::string(1000, 'v'));
    if (!full.ok()) break;
    ++acked;
  }
  ASSERT_EQ(full.code(), absl::StatusCode::kResourceExhausted) << full;
  EXPECT_GT(acked, 1000);
  // Still full: refused again, still not corruption, reads still served.
  EXPECT_EQ(t->Put("another", "x").code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(t->state(), TABLE_STATE_OK);
  EXPECT_TRUE(listener_.calls().empty());
  for (int i = 0; i < acked; i += 97) ASSERT_TRUE(t->Get(Key(i))->has_value()) << i;

  std::filesystem::remove(dir_.Sub("disk/filler"));
  ASSERT_TRUE(t->Put("after", "freed").ok());
  for (int i = 0; i < acked; ++i) ASSERT_TRUE(t->Get(Key(i))->has_value()) << i;
  EXPECT_EQ(**t->Get("after"), "freed");
  EXPECT_EQ(t->state(), TABLE_STATE_OK);
  EXPECT_TRUE(listener_.calls().empty());
  auto verified = t->Verify();
  ASSERT_TRUE(verified.ok()) << verified.status();
  // The write that failed may or may not have reached the log; the count is
  // exact either way (recounted at the reopen).
  EXPECT_GE(t->Stats().records(), uint64_t(acked + 1));
  EXPECT_LE(t->Stats().records(), uint64_t(acked + 2));
  EXPECT_EQ(verified->record_count, t->Stats().records());
  t.reset();
}

// Without CURRENT LevelDB would start an empty database and delete the
// table files as obsolete; the table reports corruption and keeps them.
TEST_F(TableTest, MissingCurrentIsCorruptionAndNoFileIsDeleted) {
  {
    auto t = Open();
    Load(t.get(), 2000);
    ASSERT_TRUE(t->Compact().ok());
  }
  std::filesystem::remove(dir_.Sub("agent_mailbox/CURRENT"));
  std::vector<std::string> before;
  for (const auto& e : std::filesystem::directory_iterator(dir_.Sub("agent_mailbox"))) {
    before.push_back(e.path().filename().string());
  }
  auto t = Open();
  EXPECT_EQ(t->state(), TABLE_STATE_CORRUPTED);
  EXPECT_EQ(t->Get(Key(1)).status().code(), absl::StatusCode::kUnavailable);
  ASSERT_EQ(listener_.calls().size(), 1u);
  EXPECT_THAT(listener_.calls()[0], HasSubstr("CURRENT is missing"));
  t.reset();
  for (const auto& f : before) {
    EXPECT_TRUE(std::filesystem::exists(dir_.Sub("agent_mailbox/" + f))) << f;
  }
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub("agent_mailbox/CURRENT")));
}

// A truncated table file makes LevelDB fail reads past its end with EINVAL
// (an I/O error, not Corruption); it is damage all the same.
TEST_F(TableTest, ATruncatedTableFileIsCorruptionNotAnIoError) {
  {
    auto t = Open();
    Load(t.get(), 3000);
    ASSERT_TRUE(t->Compact().ok());
  }
  std::string largest;
  for (const auto& e : std::filesystem::directory_iterator(dir_.Sub("agent_mailbox"))) {
    if (e.path().extension() == ".ldb" &&
        (largest.empty() || e.file_size() > std::filesystem::file_size(largest))) {
      largest = e.path().string();
    }
  }
  ASSERT_FALSE(largest.empty());
  std::filesystem::resize_file(largest, std::filesystem::file_size(largest) / 2);
  auto t = Open();
  absl::Status scanned = t->Scan("", "", [](absl::string_view, absl::string_view) { return true; });
  EXPECT_EQ(scanned.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(scanned.message(), HasSubstr("corrupted"));
  EXPECT_EQ(t->state(), TABLE_STATE_CORRUPTED);
  EXPECT_EQ(listener_.calls().size(), 1u);
}

TEST_F(TableTest, OtherIoErrorsAreUnavailableAndNotCorruption) {
  FaultyEnv env;
  env.FailWrites("Input/output error");
  auto t = Open(DURABILITY_SYNC, &env);
  env.armed = true;
  absl::Status s = t->Put("b", "2");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr("I/O error"));
  EXPECT_EQ(t->state(), TABLE_STATE_OK);
  EXPECT_TRUE(listener_.calls().empty());
}

TEST_F(TableTest, DegradedMarkerIsReportedAndTheTableServes) {
  std::filesystem::create_directories(dir_.Sub("agent_mailbox"));
  std::ofstream(dir_.Sub("agent_mailbox") + "/" + kDegradedMarkerFile) << "restored empty\n";
  auto t = Open();
  EXPECT_EQ(t->state(), TABLE_STATE_DEGRADED);
  EXPECT_TRUE(t->Put("a", "1").ok());
  EXPECT_EQ(t->Stats().state(), TABLE_STATE_DEGRADED);
}

// Issue 14: sequence numbers are never issued twice. A counter's next
// number is last + 1; after a restore that may have lost writes (the marker
// maintenance leaves), it continues above every number the table issued,
// which the bound kept beside the table (outside what a restore replaces)
// records ahead of time; the floor is kept in the table from then on.
TEST_F(TableTest, AfterALossyRestoreSequenceNumbersContinueAboveEveryOneIssued) {
  const std::string bound_file = dir_.Sub(".agent_mailbox.sequence-bound");
  uint64_t issued = 0;
  {
    auto t = Open();
    for (uint64_t last = 0; last < 20; ++last) {
      auto next = t->NextSequence(last);
      ASSERT_TRUE(next.ok()) << next.status();
      EXPECT_EQ(*next, last + 1);
      issued = *next;
    }
  }
  std::ifstream in(bound_file);
  uint64_t bound = 0;
  in >> bound;
  EXPECT_EQ(bound, 1 + kSequenceReservation);  // moved once, at the first number
  {
    auto t = Open();  // an ordinary reopen (or a lossless restore): no jump
    EXPECT_EQ(*t->NextSequence(5), 6u);
  }
  // What a lossy restore installs: the table's counters went back to 5.
  std::ofstream(dir_.Sub("agent_mailbox") + "/" + kLossyRestoreMarkerFile) << "log 7 damaged\n";
  {
    auto t = Open();
    EXPECT_FALSE(
        std::filesystem::exists(dir_.Sub("agent_mailbox") + "/" + kLossyRestoreMarkerFile));
    const uint64_t next = *t->NextSequence(5);
    EXPECT_GT(next, issued);
    EXPECT_EQ(next, bound + 1);
    EXPECT_EQ(*t->NextSequence(next), next + 1);  // then as usual
  }
  {
    auto t = Open();  // the floor is kept in the table
    EXPECT_EQ(*t->NextSequence(0), bound + 1);
  }
}

// Issue 12: a table installed by a restore serves no agent until it has been
// verified, so no acknowledged write can land in a copy that a failed
// verification would then throw away.
TEST_F(TableTest, ARestoringTableServesNoAgentUntilFinishRestoreVerifiesIt) {
  VerifyResult expected;
  {
    auto t = Open();
    Load(t.get(), 200);
    expected = *t->Verify();
  }
  std::ofstream(dir_.Sub("agent_mailbox") + "/" + kRestoringMarkerFile) << "restoring\n";
  auto t = Open();
  EXPECT_EQ(t->state(), common::v1::TABLE_STATE_RESTORING);
  EXPECT_EQ(t->Stats().state(), common::v1::TABLE_STATE_RESTORING);
  absl::Status put = t->Put("a", "1");
  EXPECT_EQ(put.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(put.message(), HasSubstr("being restored"));
  EXPECT_EQ(t->Get(Key(1)).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(t->Scan("", "", [](auto, auto) { return true; }).code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(t->Compact().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(t->Snapshot(dir_.Sub("backups")).status().code(), absl::StatusCode::kUnavailable);
  // Verification reads it (maintenance, never agents).
  EXPECT_EQ(t->Verify()->record_count, 200u);
  // A reopen does not end the state.
  ASSERT_TRUE(t->Reopen(false).ok());
  EXPECT_EQ(t->state(), common::v1::TABLE_STATE_RESTORING);

  // Other contents than expected: DATA_LOSS, and still nothing served.
  absl::StatusOr<VerifyResult> wrong = t->FinishRestore({201, expected.content_hash});
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(wrong.status().message(), HasSubstr("200 records"));
  wrong = t->FinishRestore({200, std::string(64, '0')});
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(t->state(), common::v1::TABLE_STATE_RESTORING);
  EXPECT_EQ(t->Put("a", "1").code(), absl::StatusCode::kUnavailable);

  absl::StatusOr<VerifyResult> done =
      t->FinishRestore({expected.record_count, expected.content_hash});
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->content_hash, expected.content_hash);
  EXPECT_EQ(t->state(), TABLE_STATE_OK);
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub("agent_mailbox") + "/" + kRestoringMarkerFile));
  EXPECT_TRUE(t->Put("a", "1").ok());
  EXPECT_TRUE(listener_.calls().empty());
  // Only a restoring table can be finished.
  EXPECT_EQ(t->FinishRestore({}).status().code(), absl::StatusCode::kFailedPrecondition);
  // And it stays serving after a restart.
  t.reset();
  EXPECT_EQ(Open()->state(), TABLE_STATE_OK);
}

// Issue 14: writes replayed onto a restored backup are counted once, by
// FinishRestore's traversal (the open of a RESTORING table does not
// recount), which makes the table's statistics exact. A count other than
// the one the store held when it found the corruption means lost writes:
// the table serves, with sequence numbers above every one issued before.
// A table being restored answers agents at once, without waiting for the
// restore's verification, which holds the table's lock for a whole
// traversal: agent calls run on a few threads (gRPC's callback threads, the
// call pool), and a read queued behind a long FinishRestore would take one
// from every other table of the process. The test holds FinishRestore in
// the middle (its sync of the raised sequence floor) and calls meanwhile.
TEST_F(TableTest, ARestoringTableRefusesCallsWithoutWaitingForTheRestoresLock) {
  {
    auto t = Open();
    Load(t.get(), 100);
    ASSERT_TRUE(t->NextSequence(0).ok());  // a number issued: the floor has to rise
  }
  std::ofstream(dir_.Sub("agent_mailbox") + "/" + kRestoringMarkerFile) << "restoring\n";
  FaultyEnv env;
  auto t = Open(DURABILITY_SYNC, &env);
  ASSERT_EQ(t->state(), common::v1::TABLE_STATE_RESTORING);
  env.HoldNextSync(".log");
  // A count at corruption that differs raises the floor: a synced write
  // made while FinishRestore holds the lock.
  std::thread finish([&] { EXPECT_TRUE(t->FinishRestore({.records_at_corruption = 101}).ok()); });
  env.AwaitHeldSync();
  absl::Notification answered;
  std::vector<absl::Status> answers;
  std::thread agent([&] {
    answers.push_back(t->Get(Key(1)).status());
    answers.push_back(t->Scan("", "", [](absl::string_view, absl::string_view) { return true; }));
    TableBatch b;
    b.Put("k", "v");
    answers.push_back(t->Write(b));
    absl::Notification done;
    t->WriteAsync(std::move(b), [&](absl::Status s) {
      answers.push_back(s);
      done.Notify();
    });
    done.WaitForNotification();
    answered.Notify();
  });
  const bool at_once = answered.WaitForNotificationWithTimeout(absl::Seconds(10));
  env.ReleaseSync();
  finish.join();
  agent.join();
  EXPECT_TRUE(at_once) << "the calls waited for FinishRestore";
  ASSERT_EQ(answers.size(), 4u);
  for (const absl::Status& s : answers) {
    EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
    EXPECT_THAT(s.message(), HasSubstr("being restored")) << s;
  }
  EXPECT_EQ(t->state(), TABLE_STATE_OK);
  EXPECT_FALSE(t->Get("k")->has_value());
}

TEST_F(TableTest, FinishRestoreCountsAReplayedTableOnceAndRaisesTheFloorWhenWritesWereLost) {
  const std::string table_dir = dir_.Sub("agent_mailbox");
  uint64_t issued = 0;
  VerifyResult before;
  {
    auto t = Open();
    Load(t.get(), 300);
    for (uint64_t last = 0; last < 5; ++last) issued = *t->NextSequence(last);
    before = *t->Verify();
  }
  auto restoring = [&](uint64_t records_at_corruption) {
    // What ReplayWalLogs without read-back leaves: "not counted".
    {
      leveldb::DB* raw = nullptr;
      leveldb::Options o;
      ASSERT_TRUE(leveldb::DB::Open(o, table_dir, &raw).ok());
      std::unique_ptr<leveldb::DB> db(raw);
      ASSERT_TRUE(db->Put(leveldb::WriteOptions(),
                          leveldb::Slice(internal::kStatsKey.data(), internal::kStatsKey.size()),
                          internal::EncodeStats({}))
                      .ok());
    }
    std::ofstream(table_dir + "/" + kRestoringMarkerFile) << "restoring\n";
    auto t = Open();
    ASSERT_EQ(t->state(), common::v1::TABLE_STATE_RESTORING);
    absl::StatusOr<VerifyResult> done =
        t->FinishRestore({.records_at_corruption = records_at_corruption});
    ASSERT_TRUE(done.ok()) << done.status();
    EXPECT_EQ(done->record_count, 300u);
    EXPECT_EQ(done->content_hash, before.content_hash);
    EXPECT_EQ(t->Stats().records(), 300u);
    EXPECT_EQ(t->state(), TABLE_STATE_OK);
  };
  restoring(300);  // nothing lost: the sequences go on
  EXPECT_EQ(*Open()->NextSequence(5), 6u);
  restoring(320);  // 20 records lost
  const uint64_t next = *Open()->NextSequence(5);
  EXPECT_GT(next, issued);
  EXPECT_GT(next, kSequenceReservation);
}

TEST_F(TableTest, AnEmptyTableRestoredDegradedServesOnlyOnceVerifiedEmpty) {
  std::filesystem::create_directories(dir_.Sub("agent_mailbox"));
  std::ofstream(dir_.Sub("agent_mailbox") + "/" + kDegradedMarkerFile) << "restored empty\n";
  std::ofstream(dir_.Sub("agent_mailbox") + "/" + kRestoringMarkerFile) << "restoring\n";
  auto t = Open();
  EXPECT_EQ(t->state(), common::v1::TABLE_STATE_RESTORING);
  EXPECT_EQ(t->Put("a", "1").code(), absl::StatusCode::kUnavailable);
  ASSERT_TRUE(t->FinishRestore({0, ""}).ok());
  EXPECT_EQ(t->state(), TABLE_STATE_DEGRADED);
  EXPECT_TRUE(t->Put("a", "1").ok());
}

TEST_F(TableTest, ARestoringTableThatIsCorruptedIsNotFinished) {
  {
    auto t = Open();
    Load(t.get(), 2000);
    ASSERT_TRUE(t->Compact().ok());
  }
  testing::FlipBytesInLargestTableFile(dir_.Sub("agent_mailbox"));
  std::ofstream(dir_.Sub("agent_mailbox") + "/" + kRestoringMarkerFile) << "restoring\n";
  auto t = Open();
  absl::StatusOr<VerifyResult> r = t->FinishRestore({2000, ""});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(t->state(), common::v1::TABLE_STATE_RESTORING);
  // Maintenance is restoring it already: no corruption report.
  EXPECT_TRUE(listener_.calls().empty());
}

TEST_F(TableTest, ReopenWithRepairKeepsHealthyData) {
  auto t = Open();
  Load(t.get(), 100);
  ASSERT_TRUE(t->Reopen(false).ok());
  EXPECT_EQ(t->Stats().records(), 100u);
  ASSERT_TRUE(t->Reopen(true).ok());
  EXPECT_EQ(t->Stats().records(), 100u);
  EXPECT_EQ(**t->Get(Key(7)), Value(7));
}

}  // namespace
}  // namespace agentcom::storage
