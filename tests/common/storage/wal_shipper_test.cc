// Issue 14: shipping a table's write-ahead logs to the backup directory, so
// that losing the table's whole directory loses at most one interval, and a
// damaged local log is replaced by its shipped copy. Real LevelDB files.
#include "common/storage/wal_shipper.h"

#include <leveldb/env.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/clock/clock.h"
#include "common/files/files.h"
#include "common/storage/backup.h"
#include "common/storage/table.h"
#include "common/storage/wal.h"
#include "common/storage/wal_replay.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_support.h"

namespace agentcom::storage {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
namespace fs = std::filesystem;

leveldb::Env* Env() { return leveldb::Env::Default(); }

std::string Contents(const std::string& path) {
  absl::StatusOr<std::string> s = files::ReadFile(Env(), path);
  return s.ok() ? *s : "";
}

// Table "t" under `root`, shipping to <root>/backups every `interval_ms`
// (0: not shipped, but checked against the shipped logs at open).
TableOptions ShippingTable(const std::string& root, uint32_t interval_ms) {
  TableOptions o;
  o.name = "t";
  o.dir = root + "/t";
  o.storage.set_durability(common::v1::DURABILITY_SYNC);
  o.storage.set_flush_interval_ms(100);
  o.storage.set_block_cache_mb(1);
  o.storage.set_write_buffer_mb(1);
  o.storage.set_max_open_files(100);
  o.storage.set_wal_ship_interval_ms(interval_ms);
  o.wal_ship_root = ShippedWalRoot(root + "/backups", "t");
  return o;
}

class WalShipperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    table_ = testing::OpenTestTable(dir_.path(), "t", common::v1::DURABILITY_SYNC);
    shipper_ = std::make_unique<WalShipper>(Env(), &clock_, dir_.Sub("t"), ShipRoot());
  }
  std::string ShipRoot() { return ShippedWalRoot(dir_.Sub("backups"), "t"); }
  std::string Generation() { return Contents(dir_.Sub(absl::StrCat("t/", kGenerationFile))); }
  std::string ShippedDir() { return ShippedWalDir(dir_.Sub("backups"), "t", Generation()); }
  // Writes keys [from, from + n) in batches of 10; `flush` retires the log.
  void Write(int from, int n, const std::string& tag, bool flush) {
    for (int i = from; i < from + n; i += 10) {
      TableBatch b;
      for (int j = i; j < i + 10 && j < from + n; ++j) {
        b.Put(absl::StrFormat("key%06d", j), absl::StrCat(tag, std::string(100, 'x')));
      }
      ASSERT_TRUE(table_->Write(b).ok());
    }
    if (flush) {
      ASSERT_TRUE(table_->Compact().ok());
    }
  }
  // Every log of the table has a shipped copy with exactly its bytes.
  void ExpectShippedExactly() {
    std::vector<WalLog> logs = ListWalLogs(Env(), dir_.Sub("t"), 0);
    ASSERT_FALSE(logs.empty());
    for (const WalLog& log : logs) {
      EXPECT_EQ(Contents(absl::StrCat(ShippedDir(), "/", files::Basename(log.path))),
                Contents(log.path))
          << log.path;
    }
  }

  testing::TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<Table> table_;
  std::unique_ptr<WalShipper> shipper_;
};

TEST_F(WalShipperTest, ShipsArchivedAndLiveLogsAsTheyGrow) {
  Write(0, 200, "a", /*flush=*/true);
  Write(200, 50, "b", /*flush=*/false);  // in the live log only
  ASSERT_TRUE(shipper_->ShipOnce().ok());
  ExpectShippedExactly();
  const ShipProgress first = shipper_->Progress();
  EXPECT_GT(first.shipped_bytes, 250u * 100);
  EXPECT_EQ(first.shipped_through, clock_.Now());
  EXPECT_EQ(first.failures, 0u);

  // The live log grows; the next round appends only what it gained.
  Write(250, 20, "c", /*flush=*/false);
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(shipper_->Progress().lag, absl::Seconds(1));
  ASSERT_TRUE(shipper_->ShipOnce().ok());
  ExpectShippedExactly();
  const ShipProgress second = shipper_->Progress();
  EXPECT_GT(second.shipped_bytes - first.shipped_bytes, 20u * 100);
  EXPECT_LT(second.shipped_bytes - first.shipped_bytes, 20u * 200);
  EXPECT_EQ(second.lag_bytes, second.shipped_bytes - first.shipped_bytes);
  EXPECT_EQ(second.lag, absl::ZeroDuration());
}

TEST_F(WalShipperTest, TheBackupAndTheShippedLogsAloneBringBackEveryWrite) {
  Write(0, 300, "a", /*flush=*/true);
  auto manifest = table_->Snapshot(dir_.Sub("backups"));
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  Write(200, 300, "b", /*flush=*/true);
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(table_->Delete(absl::StrFormat("key%06d", i)).ok());
  Write(600, 30, "c", /*flush=*/false);
  ASSERT_TRUE(shipper_->ShipOnce().ok());
  const VerifyResult live = *table_->Verify();
  const std::string generation = Generation();
  table_.reset();
  fs::remove_all(dir_.Sub("t"));  // the whole data directory is lost

  ASSERT_TRUE(RestoreBackup(BackupPath(dir_.Sub("backups"), "t", manifest->backup_id()),
                            dir_.Sub("restored"))
                  .ok());
  std::vector<std::string> notes;
  const std::vector<WalLog> logs =
      ChooseWalLogs(Env(), {},
                    ListWalLogs(Env(), ShippedWalDir(dir_.Sub("backups"), "t", generation),
                                manifest->first_log_number()),
                    &notes);
  auto report = ReplayWalLogs(Env(), dir_.Sub("restored"), logs);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->lost_operations, 0u);
  EXPECT_THAT(report->problems, IsEmpty());
  auto restored = testing::OpenTestTable(dir_.path(), "restored", common::v1::DURABILITY_SYNC);
  const VerifyResult got = *restored->Verify();
  EXPECT_EQ(got.record_count, live.record_count);
  EXPECT_EQ(got.content_hash, live.content_hash);
}

TEST_F(WalShipperTest, ARoundInterruptedByACrashIsContinued) {
  Write(0, 200, "a", /*flush=*/false);
  ASSERT_TRUE(shipper_->ShipOnce().ok());
  // A crash in the middle of an append leaves a prefix of the log.
  const WalLog live = ListWalLogs(Env(), dir_.Sub("t"), 0).back();
  const std::string copy = absl::StrCat(ShippedDir(), "/", files::Basename(live.path));
  fs::resize_file(copy, fs::file_size(copy) / 3);
  Write(200, 10, "b", /*flush=*/false);
  // A new shipper, as in the restarted store.
  shipper_ = std::make_unique<WalShipper>(Env(), &clock_, dir_.Sub("t"), ShipRoot());
  ASSERT_TRUE(shipper_->ShipOnce().ok());
  ExpectShippedExactly();
}

TEST_F(WalShipperTest, ADamagedLocalLogIsReplayedFromItsShippedCopy) {
  Write(0, 100, "a", /*flush=*/true);
  Write(100, 100, "b", /*flush=*/true);
  ASSERT_TRUE(shipper_->ShipOnce().ok());
  std::vector<WalLog> local = ListWalLogs(Env(), dir_.Sub("t"), 0);
  ASSERT_GE(local.size(), 2u);
  testing::FlipBytes(local[0].path, 20, 1);
  std::vector<std::string> notes;
  std::vector<WalLog> chosen =
      ChooseWalLogs(Env(), local, ListWalLogs(Env(), ShippedDir(), 0), &notes);
  ASSERT_EQ(chosen.size(), local.size());
  EXPECT_EQ(chosen[0].path, absl::StrCat(ShippedDir(), "/", files::Basename(local[0].path)));
  EXPECT_EQ(chosen[1].path, local[1].path);  // intact and equal: the table's own
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_THAT(notes[0], HasSubstr("is damaged; the shipped copy was replayed instead"));
  auto file = ReadWalFile(Env(), chosen[0].path);
  ASSERT_TRUE(file.ok());
  EXPECT_TRUE(file->damage.empty());
}

TEST_F(WalShipperTest, ALogTruncatedLocallyKeepsItsLongerShippedCopy) {
  Write(0, 100, "a", /*flush=*/true);
  ASSERT_TRUE(shipper_->ShipOnce().ok());
  const WalLog archived = ListWalLogs(Env(), dir_.Sub("t"), 0).front();
  const std::string copy = absl::StrCat(ShippedDir(), "/", files::Basename(archived.path));
  const std::string whole = Contents(copy);
  fs::resize_file(archived.path, whole.size() / 2);
  // A new shipper (the store restarted), so the log is looked at again.
  shipper_ = std::make_unique<WalShipper>(Env(), &clock_, dir_.Sub("t"), ShipRoot());
  ASSERT_TRUE(shipper_->ShipOnce().ok());
  EXPECT_EQ(Contents(copy), whole);
  std::vector<std::string> notes;
  std::vector<WalLog> chosen = ChooseWalLogs(Env(), {archived}, {{archived.number, copy}}, &notes);
  EXPECT_EQ(chosen[0].path, copy);
  EXPECT_THAT(notes, ::testing::SizeIs(1));
}

TEST_F(WalShipperTest, ARestoredTableShipsIntoANewHistory) {
  Write(0, 50, "a", /*flush=*/false);
  ASSERT_TRUE(shipper_->ShipOnce().ok());
  const std::string old_dir = ShippedDir();
  // What a restore does: a new generation (log numbers may repeat).
  ASSERT_TRUE(
      files::WriteFileAtomically(Env(), dir_.Sub(absl::StrCat("t/", kGenerationFile)), "g2").ok());
  Write(50, 10, "b", /*flush=*/false);
  ASSERT_TRUE(shipper_->ShipOnce().ok());
  EXPECT_NE(ShippedDir(), old_dir);
  ExpectShippedExactly();
  EXPECT_TRUE(fs::exists(old_dir));  // the old history's logs stay for retention to judge
}

TEST_F(WalShipperTest, AnUnwritableDestinationIsCountedAndTheLagGrows) {
  Write(0, 50, "a", /*flush=*/false);
  fs::create_directories(dir_.Sub("backups/t"));
  std::ofstream(ShipRoot()) << "not a directory";
  EXPECT_FALSE(shipper_->ShipOnce().ok());
  clock_.Advance(absl::Seconds(30));
  const ShipProgress p = shipper_->Progress();
  EXPECT_EQ(p.failures, 1u);
  EXPECT_THAT(p.last_error, HasSubstr(ShipRoot()));
  EXPECT_EQ(p.shipped_through, absl::InfinitePast());
  EXPECT_EQ(p.lag, absl::Seconds(30));
  // Once it can be written again, the next round catches up.
  fs::remove(ShipRoot());
  ASSERT_TRUE(shipper_->ShipOnce().ok());
  ExpectShippedExactly();
  EXPECT_EQ(shipper_->Progress().lag, absl::ZeroDuration());
}

// A log truncated or deleted since it was shipped is found before LevelDB
// opens the table (which would take it for a crash and lose its writes);
// an old log that retention removed is not.
TEST_F(WalShipperTest, LogsLostSinceTheyWereShippedAreFoundBeforeOpening) {
  Write(0, 100, "a", /*flush=*/true);
  Write(100, 100, "b", /*flush=*/true);
  Write(200, 30, "c", /*flush=*/false);
  ASSERT_TRUE(shipper_->ShipOnce().ok());
  table_.reset();
  const std::vector<WalLog> logs = ListWalLogs(Env(), dir_.Sub("t"), 0);
  ASSERT_GE(logs.size(), 3u);
  EXPECT_EQ(FindLogsLostSinceShipped(Env(), dir_.Sub("t"), ShipRoot()), "");
  fs::remove(logs.front().path);  // what retention does to an old log
  EXPECT_EQ(FindLogsLostSinceShipped(Env(), dir_.Sub("t"), ShipRoot()), "");

  const std::string live = logs.back().path;
  const std::string whole = Contents(live);
  fs::resize_file(live, whole.size() / 2);
  EXPECT_THAT(FindLogsLostSinceShipped(Env(), dir_.Sub("t"), ShipRoot()),
              HasSubstr(absl::StrCat(live, " has ", whole.size() / 2, " bytes but its shipped")));
  fs::remove(live);
  EXPECT_THAT(FindLogsLostSinceShipped(Env(), dir_.Sub("t"), ShipRoot()),
              HasSubstr(absl::StrCat(files::Basename(live), " is missing but was shipped")));

  // The table itself refuses to open such a directory as healthy.
  auto t = OpenTable(ShippingTable(dir_.path(), /*interval_ms=*/0));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ((*t)->state(), common::v1::TABLE_STATE_CORRUPTED);
  EXPECT_THAT((*t)->Stats().state_reason(), HasSubstr("is missing but was shipped"));
}

// The store runs the shipper itself when TableOptions name a destination.
TEST(WalShippingTableTest, AnOpenTableShipsOnItsOwn) {
  testing::TempDir dir;
  auto t = OpenTable(ShippingTable(dir.path(), /*interval_ms=*/20));
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_TRUE((*t)->Put("k", "v").ok());
  TableStats stats;
  for (int i = 0; i < 500 && stats.wal_shipped_bytes() == 0; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
    stats = (*t)->Stats();
  }
  EXPECT_GT(stats.wal_shipped_bytes(), 0u);
  EXPECT_GT(stats.wal_shipped_through_unix_seconds(), 0);
  EXPECT_EQ(stats.wal_ship_failures(), 0u);
}

}  // namespace
}  // namespace agentcom::storage
