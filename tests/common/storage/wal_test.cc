// Issue 14: reading LevelDB's write-ahead logs, keeping the logs LevelDB
// retires, and replaying them onto a restored backup, on real LevelDB files.
#include "common/storage/wal.h"

#include <leveldb/env.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/clock/clock.h"
#include "common/storage/backup.h"
#include "common/storage/table.h"
#include "common/storage/wal_archive.h"
#include "common/storage/wal_replay.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_support.h"

namespace agentcom::storage {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

leveldb::Env* Env() { return leveldb::Env::Default(); }

WalBatch Batch(uint64_t seq, int puts, int value_bytes = 10) {
  WalBatch b;
  b.sequence = seq;
  for (int i = 0; i < puts; ++i) {
    b.ops.push_back({absl::StrCat("k", seq, "-", i), std::string(value_bytes, 'v')});
  }
  b.ops.push_back({absl::StrCat("gone", seq), std::nullopt});
  return b;
}

std::string WriteLog(const std::string& path, const std::vector<WalBatch>& batches) {
  std::string log;
  for (const auto& b : batches) AppendWalRecord(EncodeWalBatch(b), &log);
  std::ofstream(path, std::ios::binary) << log;
  return log;
}

// The hardware CRC agrees with the portable one at every length and
// alignment (the tail loop, the eight-byte loop), and with the standard
// check value.
TEST(WalTest, Crc32cIsTheSameInHardwareAndPortably) {
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(internal::PortableCrc32c("123456789"), 0xE3069283u);
  std::string bytes;
  for (int i = 0; i < 300; ++i) bytes.push_back(static_cast<char>(i * 131 + 7));
  for (size_t offset = 0; offset < 9; ++offset) {
    for (size_t length = 0; offset + length <= bytes.size(); ++length) {
      const absl::string_view data(bytes.data() + offset, length);
      ASSERT_EQ(Crc32c(data), internal::PortableCrc32c(data)) << offset << " " << length;
    }
  }
}

TEST(WalTest, LogFileNumbersAreRecognised) {
  EXPECT_EQ(LogFileNumber("000123.log"), 123u);
  EXPECT_EQ(LogFileNumber("123.log"), 123u);
  EXPECT_EQ(LogFileNumber("000123.ldb"), std::nullopt);
  EXPECT_EQ(LogFileNumber("x123.log"), std::nullopt);
  EXPECT_EQ(LogFileNumber(".log"), std::nullopt);
}

TEST(WalTest, RecordsRoundTripIncludingOnesSpanningBlocks) {
  testing::TempDir dir;
  // The second batch is larger than a 32 KiB block: FIRST, MIDDLE, LAST.
  std::vector<WalBatch> batches = {Batch(1, 3), Batch(5, 40, 2000), Batch(46, 1)};
  WriteLog(dir.Sub("000007.log"), batches);
  auto file = ReadWalFile(Env(), dir.Sub("000007.log"));
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_TRUE(file->damage.empty()) << file->damage;
  EXPECT_FALSE(file->torn_tail);
  ASSERT_EQ(file->batches.size(), 3u);
  EXPECT_EQ(file->batches[1].sequence, 5u);
  ASSERT_EQ(file->batches[1].ops.size(), 41u);
  EXPECT_EQ(*file->batches[1].ops[0].value, std::string(2000, 'v'));
  EXPECT_FALSE(file->batches[1].ops[40].value.has_value());  // the delete
  EXPECT_EQ(ReadWalFile(Env(), dir.Sub("none.log")).status().code(), absl::StatusCode::kNotFound);
}

TEST(WalTest, ATornTailIsNotDamageButAFlippedByteIs) {
  testing::TempDir dir;
  const std::string log = WriteLog(dir.Sub("1.log"), {Batch(1, 3), Batch(5, 3), Batch(9, 3)});
  // A crash in the middle of the last write: the file ends inside it.
  std::ofstream(dir.Sub("2.log"), std::ios::binary) << log.substr(0, log.size() - 5);
  auto torn = ReadWalFile(Env(), dir.Sub("2.log"));
  ASSERT_TRUE(torn.ok());
  EXPECT_TRUE(torn->torn_tail);
  EXPECT_TRUE(torn->damage.empty());
  EXPECT_EQ(torn->batches.size(), 2u);

  // A byte flipped inside the second record's data.
  std::string damaged = log;
  const size_t second = log.size() / 3 + 12;
  damaged[second] ^= 0x40;
  std::ofstream(dir.Sub("3.log"), std::ios::binary) << damaged;
  auto file = ReadWalFile(Env(), dir.Sub("3.log"));
  ASSERT_TRUE(file.ok());
  EXPECT_THAT(file->damage, HasSubstr("checksum mismatch"));
  EXPECT_EQ(file->batches.size(), 1u);  // the intact one before it
}

// Only the last record can be torn by a crash: a length field damaged so
// that its record seems to run past the end, with intact records after it,
// is damage (LevelDB's reader would drop everything after it silently).
TEST(WalTest, ALengthRunningPastTheEndIsDamageWhenIntactRecordsFollow) {
  testing::TempDir dir;
  const std::vector<WalBatch> batches = {Batch(1, 3), Batch(5, 3), Batch(9, 3)};
  const std::string log = WriteLog(dir.Sub("1.log"), batches);
  const size_t second = kWalHeaderBytes + EncodeWalBatch(batches[0]).size();
  const size_t third = second + kWalHeaderBytes + EncodeWalBatch(batches[1]).size();
  std::string damaged = log;
  damaged[second + 4] = damaged[second + 5] = '\xff';  // length 65535
  std::ofstream(dir.Sub("2.log"), std::ios::binary) << damaged;
  auto file = ReadWalFile(Env(), dir.Sub("2.log"));
  ASSERT_TRUE(file.ok());
  EXPECT_FALSE(file->torn_tail);
  EXPECT_THAT(file->damage, HasSubstr("runs past the end of the file, but intact records follow"));
  EXPECT_EQ(file->batches.size(), 1u);

  std::string last = log;  // the same damage to the last record is a torn write
  last[third + 4] = last[third + 5] = '\xff';
  std::ofstream(dir.Sub("3.log"), std::ios::binary) << last;
  auto torn = ReadWalFile(Env(), dir.Sub("3.log"));
  ASSERT_TRUE(torn.ok());
  EXPECT_TRUE(torn->torn_tail);
  EXPECT_TRUE(torn->damage.empty()) << torn->damage;
  EXPECT_EQ(torn->batches.size(), 2u);
}

TEST(WalTest, ReadsWhatLevelDbWrites) {
  testing::TempDir dir;
  {
    auto t = testing::OpenTestTable(dir.path(), "t", common::v1::DURABILITY_SYNC);
    for (int i = 0; i < 50; ++i) ASSERT_TRUE(t->Put(absl::StrCat("key", i), "value").ok());
    ASSERT_TRUE(t->Delete("key7").ok());
  }
  std::vector<WalLog> logs = ListWalLogs(Env(), dir.Sub("t"), 0);
  ASSERT_FALSE(logs.empty());
  uint64_t puts = 0, deletes = 0, next = 0;
  for (const WalLog& log : logs) {
    auto file = ReadWalFile(Env(), log.path);
    ASSERT_TRUE(file.ok());
    EXPECT_TRUE(file->damage.empty()) << file->damage;
    for (const auto& b : file->batches) {
      if (next != 0) {
        EXPECT_EQ(b.sequence, next);  // contiguous
      }
      next = b.sequence + b.ops.size();
      for (const auto& op : b.ops) (op.value ? puts : deletes) += 1;
    }
  }
  EXPECT_GE(puts, 50u);  // plus the table's own statistics record
  EXPECT_EQ(deletes, 1u);
}

// Writes `n` records of generation `gen`, then forces LevelDB to start a new
// log and retire the old one (CompactRange flushes the memtable).
void WriteAndFlush(Table* t, int from, int n, int gen) {
  for (int i = from; i < from + n; i += 10) {
    TableBatch b;
    for (int j = i; j < i + 10 && j < from + n; ++j) {
      b.Put(absl::StrFormat("key%06d", j), absl::StrCat("gen", gen, std::string(100, 'x')));
    }
    ASSERT_TRUE(t->Write(b).ok());
  }
  ASSERT_TRUE(t->Compact().ok());
}

// A MANIFEST cut after its first edit (what LevelDB makes of one whose next
// length field is damaged) would open as an older table, without the writes
// whose logs it retired since: the table is corrupted instead.
TEST(ManifestCheckTest, AManifestThatLostItsLastEditsIsCorruptionNotAnOlderTable) {
  testing::TempDir dir;
  auto table = testing::OpenTestTable(dir.path(), "t", common::v1::DURABILITY_SYNC);
  WriteAndFlush(table.get(), 0, 100, 0);  // memtable flushes: logs retire into the archive
  WriteAndFlush(table.get(), 100, 100, 1);
  table.reset();
  const std::string archive = dir.Sub(std::string("t/") + kWalArchiveDir);
  EXPECT_EQ(CheckManifest(Env(), dir.Sub("t"), archive), "");

  std::string current;
  ASSERT_TRUE(leveldb::ReadFileToString(Env(), dir.Sub("t/CURRENT"), &current).ok());
  const std::string manifest = dir.Sub("t/" + current.substr(0, current.size() - 1));
  std::string bytes;
  ASSERT_TRUE(leveldb::ReadFileToString(Env(), manifest, &bytes).ok());
  const std::string original = bytes;
  const size_t first = kWalHeaderBytes + (static_cast<unsigned char>(bytes[4]) |
                                          (static_cast<unsigned char>(bytes[5]) << 8));
  ASSERT_LT(first, bytes.size());
  std::filesystem::resize_file(manifest, first);
  EXPECT_THAT(CheckManifest(Env(), dir.Sub("t"), archive),
              HasSubstr("ends before the edit that retired log"));
  table = testing::OpenTestTable(dir.path(), "t", common::v1::DURABILITY_SYNC);
  EXPECT_EQ(table->state(), common::v1::TABLE_STATE_CORRUPTED);
  table.reset();

  // The second record's length field damaged so that it seems to run past
  // the end: LevelDB would take it for a torn write and drop it silently.
  bytes[first + 4] = bytes[first + 5] = '\xff';
  std::ofstream(manifest, std::ios::binary | std::ios::trunc) << bytes;
  EXPECT_THAT(CheckManifest(Env(), dir.Sub("t"), dir.Sub("empty-archive")),
              HasSubstr("runs past the end of the file, but intact records follow"));
  // And the last one's: a torn write or damage, LevelDB cannot tell.
  size_t last = 0;
  for (size_t at = 0; at + kWalHeaderBytes <= original.size();) {
    last = at;
    at += kWalHeaderBytes + (static_cast<unsigned char>(original[at + 4]) |
                             (static_cast<unsigned char>(original[at + 5]) << 8));
  }
  bytes = original;
  bytes[last + 4] = bytes[last + 5] = '\xff';
  std::ofstream(manifest, std::ios::binary | std::ios::trunc) << bytes;
  EXPECT_THAT(CheckManifest(Env(), dir.Sub("t"), dir.Sub("empty-archive")),
              HasSubstr("ends inside a record"));
}

TEST(WalArchiveTest, RetiredLogsAreKeptInTheArchive) {
  testing::TempDir dir;
  auto t = testing::OpenTestTable(dir.path(), "t", common::v1::DURABILITY_SYNC);
  for (int round = 0; round < 4; ++round) WriteAndFlush(t.get(), 0, 100, round);
  std::vector<std::string> archived;
  for (const auto& e : fs::directory_iterator(dir.Sub("t/wal-archive"))) {
    archived.push_back(e.path().filename());
  }
  EXPECT_GE(archived.size(), 4u);
  for (const auto& name : archived) EXPECT_TRUE(LogFileNumber(name).has_value()) << name;
  EXPECT_EQ(t->Stats().wal_archive_logs(), archived.size());
  EXPECT_GT(t->Stats().wal_archive_bytes(), 4u * 100 * 100);
  // LevelDB still deletes what is not a log: no old MANIFEST or table
  // files pile up.
  int manifests = 0;
  for (const auto& e : fs::directory_iterator(dir.Sub("t"))) {
    manifests += absl::StartsWith(e.path().filename().string(), "MANIFEST-");
  }
  EXPECT_EQ(manifests, 1);
}

class ReplayTest : public ::testing::Test {
 protected:
  // A table with a backup, then writes, overwrites and deletes across
  // several logs; returns the backup's manifest.
  BackupManifest Build() {
    table_ = testing::OpenTestTable(dir_.path(), "t", common::v1::DURABILITY_SYNC);
    WriteAndFlush(table_.get(), 0, 300, 0);
    auto manifest = table_->Snapshot(dir_.Sub("backups"));
    EXPECT_TRUE(manifest.ok()) << manifest.status();
    EXPECT_FALSE(manifest->generation().empty());
    EXPECT_GT(manifest->first_log_number(), 0u);
    WriteAndFlush(table_.get(), 200, 300, 1);  // overwrites and new keys
    for (int i = 0; i < 50; ++i) EXPECT_TRUE(table_->Delete(absl::StrFormat("key%06d", i)).ok());
    WriteAndFlush(table_.get(), 600, 100, 2);
    WriteAndFlush(table_.get(), 700, 7, 3);  // the newest log stays live after this
    EXPECT_TRUE(table_->Put("last", "write").ok());
    live_ = *table_->Verify();
    table_.reset();
    return *manifest;
  }
  // The backup rebuilt into `restored`, with the logs replayed onto it.
  absl::StatusOr<ReplayReport> Restore(const BackupManifest& m, std::vector<WalLog> logs) {
    auto restored =
        RestoreBackup(BackupPath(dir_.Sub("backups"), "t", m.backup_id()), dir_.Sub("restored"));
    if (!restored.ok()) return restored.status();
    return ReplayWalLogs(Env(), dir_.Sub("restored"), logs);
  }
  VerifyResult RestoredContent() {
    auto t = testing::OpenTestTable(dir_.path(), "restored", common::v1::DURABILITY_SYNC);
    return *t->Verify();
  }

  testing::TempDir dir_;
  std::unique_ptr<Table> table_;
  VerifyResult live_;
};

TEST_F(ReplayTest, TheBackupPlusTheLogsIsExactlyTheTable) {
  const BackupManifest m = Build();
  auto report = Restore(m, ListWalLogs(Env(), dir_.Sub("t"), m.first_log_number()));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->lost_operations, 0u);
  EXPECT_THAT(report->problems, ::testing::IsEmpty());
  EXPECT_GT(report->operations, 350u);
  // The replay read back what it built: the restore's expectation.
  EXPECT_EQ(report->verified->record_count, live_.record_count);
  EXPECT_EQ(report->verified->content_hash, live_.content_hash);
  const VerifyResult restored = RestoredContent();
  EXPECT_EQ(restored.record_count, live_.record_count);
  EXPECT_EQ(restored.content_hash, live_.content_hash);
  // and left an exact statistics record, with the live table's logical
  // size too (a recount at open would have given the same).
  auto live = testing::OpenTestTable(dir_.path(), "t", common::v1::DURABILITY_SYNC);
  auto t = testing::OpenTestTable(dir_.path(), "restored", common::v1::DURABILITY_SYNC);
  EXPECT_EQ(t->Stats().records(), live_.record_count);
  EXPECT_EQ(t->Stats().live_bytes(), live->Stats().live_bytes());
}

// Every batch carries its commit time in the log: a replay can stop at any
// moment and leave the table exactly as it was then.
TEST(PointInTimeReplayTest, ReplayStopsAfterTheLastBatchCommittedAtTheTargetTime) {
  testing::TempDir dir;
  ManualClock clock;
  auto table = testing::OpenTestTable(dir.path(), "t", common::v1::DURABILITY_SYNC, &clock);
  WriteAndFlush(table.get(), 0, 200, 0);
  auto manifest = table->Snapshot(dir.Sub("backups"));
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  clock.Advance(absl::Seconds(1));
  WriteAndFlush(table.get(), 100, 300, 1);  // several logs retire meanwhile
  ASSERT_TRUE(table->Delete("key000000").ok());
  const absl::Time target = clock.Now();
  const VerifyResult at_target = *table->Verify();
  clock.Advance(absl::Seconds(1));
  for (int i = 0; i < 150; ++i) ASSERT_TRUE(table->Delete(absl::StrFormat("key%06d", i)).ok());
  WriteAndFlush(table.get(), 0, 40, 2);
  table.reset();

  ASSERT_TRUE(
      RestoreBackup(BackupPath(dir.Sub("backups"), "t", manifest->backup_id()), dir.Sub("restored"))
          .ok());
  auto report = ReplayWalLogs(Env(), dir.Sub("restored"),
                              ListWalLogs(Env(), dir.Sub("t"), manifest->first_log_number()),
                              {.until = target});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->last_time, target);
  EXPECT_EQ(report->lost_operations, 0u);
  EXPECT_THAT(report->problems, ::testing::IsEmpty());
  // 150 deletes, then 4 batches of 10 puts, each batch with its time (the
  // statistics the table wrote as it closed are no one's write).
  EXPECT_EQ(report->left_out_batches, 150u + 4);
  EXPECT_EQ(report->left_out_operations, 150u * 2 + 4 * 11);
  auto restored = testing::OpenTestTable(dir.path(), "restored", common::v1::DURABILITY_SYNC);
  const VerifyResult content = *restored->Verify();
  EXPECT_EQ(content.record_count, at_target.record_count);
  EXPECT_EQ(content.content_hash, at_target.content_hash);
}

TEST(PointInTimeReplayTest, CommitTimesNeverGoBackEvenWhenTheClockDoes) {
  testing::TempDir dir;
  ManualClock clock;
  auto table = testing::OpenTestTable(dir.path(), "t", common::v1::DURABILITY_SYNC, &clock);
  ASSERT_TRUE(table->Put("a", "1").ok());
  const absl::Time first = clock.Now();
  clock.Advance(-absl::Minutes(5));  // an NTP step back
  ASSERT_TRUE(table->Put("b", "2").ok());
  table.reset();
  table = testing::OpenTestTable(dir.path(), "t", common::v1::DURABILITY_SYNC, &clock);
  ASSERT_TRUE(table->Put("c", "3").ok());  // and across a reopen
  table.reset();
  std::vector<absl::Time> times;
  for (const WalLog& log : ListWalLogs(Env(), dir.Sub("t"), 0)) {
    auto file = ReadWalFile(Env(), log.path);
    ASSERT_TRUE(file.ok());
    for (const WalBatch& b : file->batches) {
      if (auto t = BatchCommitTime(b)) times.push_back(*t);
    }
  }
  EXPECT_THAT(times, ::testing::ElementsAre(first, first, first));
}

TEST_F(ReplayTest, ADamagedLogIsReplayedUpToItsDamageAndTheLossIsCounted) {
  const BackupManifest m = Build();
  std::vector<WalLog> logs = ListWalLogs(Env(), dir_.Sub("t"), m.first_log_number());
  ASSERT_GE(logs.size(), 3u);
  // Damage the second log near its start: everything after the damage in
  // it is lost, and the next log shows the gap.
  const WalLog& victim = logs[1];
  auto before = ReadWalFile(Env(), victim.path);
  ASSERT_TRUE(before.ok());
  uint64_t in_victim = 0;
  for (const auto& b : before->batches) in_victim += b.ops.size();
  testing::FlipBytes(victim.path, 20, 1);
  auto report = Restore(m, logs);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->lost_operations, in_victim);  // every operation of that log
  ASSERT_EQ(report->problems.size(), 2u);
  EXPECT_THAT(report->problems[0], HasSubstr(absl::StrCat("log ", victim.number, " is damaged")));
  EXPECT_THAT(report->problems[1], HasSubstr("are missing"));
  // What was replayed is a consistent table: it opens and verifies.
  EXPECT_GT(RestoredContent().record_count, 0u);
}

TEST_F(ReplayTest, AMissingLogIsAGapOfExactlyItsOperations) {
  const BackupManifest m = Build();
  std::vector<WalLog> logs = ListWalLogs(Env(), dir_.Sub("t"), m.first_log_number());
  ASSERT_GE(logs.size(), 3u);
  auto missing = ReadWalFile(Env(), logs[1].path);
  ASSERT_TRUE(missing.ok());
  uint64_t ops = 0;
  for (const auto& b : missing->batches) ops += b.ops.size();
  logs.erase(logs.begin() + 1);
  auto report = Restore(m, logs);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->lost_operations, ops);
}

}  // namespace
}  // namespace agentcom::storage

namespace agentcom::storage {
namespace {

// While a backup copies files, LevelDB's deletions wait: the file stays
// until the last hold is released, and a log is then archived, not lost.
TEST(DeletionHoldTest, DeletionsWaitForTheLastHold) {
  testing::TempDir dir;
  const std::string table = dir.Sub("t");
  std::filesystem::create_directories(table);
  std::ofstream(table + "/000007.ldb") << "t";
  std::ofstream(table + "/000008.log") << "l";
  WalArchivingEnv env(leveldb::Env::Default(), table);
  {
    DeletionHold outer(&env);
    {
      DeletionHold inner(&env);
      EXPECT_TRUE(env.RemoveFile(table + "/000007.ldb").ok());
      EXPECT_TRUE(env.RemoveFile(table + "/000008.log").ok());
    }
    EXPECT_TRUE(std::filesystem::exists(table + "/000007.ldb"));
    EXPECT_TRUE(std::filesystem::exists(table + "/000008.log"));
  }
  EXPECT_FALSE(std::filesystem::exists(table + "/000007.ldb"));
  EXPECT_FALSE(std::filesystem::exists(table + "/000008.log"));
  EXPECT_TRUE(std::filesystem::exists(table + "/wal-archive/000008.log"));
}

}  // namespace
}  // namespace agentcom::storage
