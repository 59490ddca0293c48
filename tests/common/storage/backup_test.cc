// Snapshots and the backup format (issue 2, item 5): point-in-time
// consistency under concurrent writes, manifest equal to Verify, damage
// detected, a crash before the rename leaves nothing visible, restore.
#include "common/storage/backup.h"

#include <leveldb/env.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/files/files.h"
#include "common/storage/file_backup.h"
#include "common/storage/format.h"
#include "common/storage/table.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_support.h"

namespace agentcom::storage {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

class BackupTest : public ::testing::Test {
 protected:
  std::unique_ptr<Table> Open(const std::string& dir, leveldb::Env* env = nullptr) {
    TableOptions o;
    o.name = "agent_mailbox";
    o.dir = dir;
    o.storage.set_durability(common::v1::DURABILITY_BUFFERED);
    o.storage.set_flush_interval_ms(50);
    o.storage.set_block_cache_mb(8);
    o.storage.set_write_buffer_mb(1);
    o.storage.set_max_open_files(100);
    o.env = env;
    auto t = OpenTable(o);
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? *std::move(t) : nullptr;
  }
  void Load(Table* t, int n) {
    for (int i = 0; i < n; i += 500) {
      TableBatch b;
      for (int j = i; j < std::min(n, i + 500); ++j) {
        b.Put(absl::StrFormat("k%07d", j), std::string(150, static_cast<char>('a' + j % 26)));
      }
      ASSERT_TRUE(t->Write(b).ok());
    }
  }

  testing::TempDir dir_;
};

// The hash behind Verify, backups and restores: the same digest whether
// the stream fits one chunk (hashed on the caller's thread) or spans many
// (hashed on the hasher's own thread, with the caller waiting when
// kChunksInFlight are queued).
TEST(ContentHasherTest, DigestIsTheSameOnTheCallersThreadAndOnItsOwn) {
  for (const int records : {0, 3, 40000}) {
    internal::ContentHasher hasher;
    std::string stream;
    uint64_t bytes = 0;
    for (int i = 0; i < records; ++i) {
      const std::string key = absl::StrFormat("key-%08d", i);
      // Lengths past 127 take two varint bytes.
      const std::string value(i % 300, static_cast<char>('a' + i % 26));
      stream.push_back(static_cast<char>(key.size()));
      stream += key;
      if (value.size() < 128) {
        stream.push_back(static_cast<char>(value.size()));
      } else {
        stream.push_back(static_cast<char>(0x80 | (value.size() & 0x7f)));
        stream.push_back(static_cast<char>(value.size() >> 7));
      }
      stream += value;
      bytes += key.size() + value.size();
      hasher.Add(key, value);
    }
    if (records == 40000) {
      ASSERT_GT(stream.size(), internal::ContentHasher::kChunkBytes *
                                   internal::ContentHasher::kChunksInFlight * 2);
    }
    digest::Sha256 whole;
    whole.Update(stream);
    EXPECT_EQ(hasher.count(), static_cast<uint64_t>(records));
    EXPECT_EQ(hasher.logical_bytes(), bytes);
    EXPECT_EQ(hasher.HexDigest(), whole.HexDigest()) << records << " records";
  }
}

TEST_F(BackupTest, IdsSortChronologicallyAndAvoidColons) {
  absl::Time t = absl::FromUnixMicros(1795000000123456);
  std::string id = BackupIdFor(t);
  EXPECT_EQ(id.size(), 23u);
  EXPECT_EQ(id.find(':'), std::string::npos);
  EXPECT_TRUE(IsBackupId(id));
  EXPECT_LT(id, BackupIdFor(t + absl::Microseconds(1)));
  EXPECT_LT(BackupIdFor(t + absl::Seconds(9)), BackupIdFor(t + absl::Seconds(10)));
  EXPECT_FALSE(IsBackupId(".tmp-" + id));
  EXPECT_FALSE(IsBackupId("../../etc"));
  // And the time reads back from the id.
  EXPECT_EQ(BackupIdTime(id), t);
  EXPECT_EQ(BackupIdTime("../../etc"), std::nullopt);
}

TEST_F(BackupTest, ManifestEqualsVerifyAndTheBackupRestores) {
  auto t = Open(dir_.Sub("live"));
  Load(t.get(), 20000);
  auto manifest = t->Snapshot(dir_.Sub("backups"));
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  auto verify = t->Verify();
  ASSERT_TRUE(verify.ok());
  EXPECT_EQ(manifest->record_count(), 20000u);
  EXPECT_EQ(manifest->record_count(), verify->record_count);
  EXPECT_EQ(manifest->format_version(), kFileBackupFormatVersion);
  EXPECT_EQ(manifest->table(), "agent_mailbox");
  EXPECT_FALSE(manifest->files().empty());

  auto ids = ListBackups(dir_.Sub("backups"), "agent_mailbox");
  ASSERT_TRUE(ids.ok());
  ASSERT_EQ(ids->size(), 1u);
  EXPECT_EQ((*ids)[0], manifest->backup_id());
  const std::string backup = BackupPath(dir_.Sub("backups"), "agent_mailbox", (*ids)[0]);
  auto checked = VerifyBackup(backup);
  ASSERT_TRUE(checked.ok()) << checked.status();
  EXPECT_EQ(checked->content_hash(), verify->content_hash);  // the verification open's

  auto restored = RestoreBackup(backup, dir_.Sub("restored"));
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->content_hash(), verify->content_hash);
  auto r = Open(dir_.Sub("restored"));
  EXPECT_EQ(r->Stats().records(), 20000u);
  EXPECT_EQ(r->Verify()->content_hash, verify->content_hash);
  // A restore never overwrites an existing directory.
  EXPECT_EQ(RestoreBackup(backup, dir_.Sub("restored")).status().code(),
            absl::StatusCode::kAlreadyExists);
}

// Writers update three keys per batch with one generation number. In the
// backup, each writer's keys must share a generation: a batch is wholly in or
// wholly out.
TEST_F(BackupTest, ConcurrentBatchesAreWhollyInOrOut) {
  auto t = Open(dir_.Sub("live"));
  Load(t.get(), 20000);
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      for (int gen = 1; !stop; ++gen) {
        TableBatch b;
        for (int k = 0; k < 3; ++k) b.Put(absl::StrCat("w", w, "/", k), absl::StrCat(gen));
        ASSERT_TRUE(t->Write(b).ok());
      }
    });
  }
  absl::SleepFor(absl::Milliseconds(50));
  auto manifest = t->Snapshot(dir_.Sub("backups"));
  stop = true;
  for (auto& w : writers) w.join();
  ASSERT_TRUE(manifest.ok()) << manifest.status();

  const std::string backup =
      BackupPath(dir_.Sub("backups"), "agent_mailbox", manifest->backup_id());
  ASSERT_TRUE(VerifyBackup(backup).ok());
  ASSERT_TRUE(RestoreBackup(backup, dir_.Sub("restored")).ok());
  auto r = Open(dir_.Sub("restored"));
  int seen_writers = 0;
  for (int w = 0; w < 4; ++w) {
    std::set<std::string> gens;
    int present = 0;
    for (int k = 0; k < 3; ++k) {
      auto v = r->Get(absl::StrCat("w", w, "/", k));
      ASSERT_TRUE(v.ok());
      if (v->has_value()) {
        ++present;
        gens.insert(**v);
      }
    }
    EXPECT_TRUE(present == 0 || present == 3) << "writer " << w << ": " << present;
    EXPECT_LE(gens.size(), 1u) << "writer " << w << " has a torn batch";
    seen_writers += present == 3;
  }
  EXPECT_GT(seen_writers, 0);
  EXPECT_EQ(r->Stats().records(), manifest->record_count());
}

TEST_F(BackupTest, DamagedBackupsFailVerification) {
  auto t = Open(dir_.Sub("live"));
  Load(t.get(), 20000);
  auto manifest = t->Snapshot(dir_.Sub("backups"));
  ASSERT_TRUE(manifest.ok());
  const std::string backup =
      BackupPath(dir_.Sub("backups"), "agent_mailbox", manifest->backup_id());
  ASSERT_TRUE(manifest->files(0).pooled());  // the table files, shared
  const std::string data =
      PoolPath(dir_.Sub("backups"), "agent_mailbox") + "/" + manifest->files(0).name();

  testing::FlipBytes(data, fs::file_size(data) / 2, 1);
  auto flipped = VerifyBackup(backup);
  EXPECT_EQ(flipped.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(flipped.status().message(), HasSubstr("does not match its checksum"));
  auto restore = RestoreBackup(backup, dir_.Sub("restored"));
  EXPECT_EQ(restore.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_FALSE(fs::exists(dir_.Sub("restored")));
  testing::FlipBytes(data, fs::file_size(data) / 2, 1);  // undo
  EXPECT_TRUE(VerifyBackup(backup).ok());

  std::ofstream(backup + "/stray.ldb") << "x";
  EXPECT_THAT(VerifyBackup(backup).status().message(), HasSubstr("unexpected file stray.ldb"));
  fs::remove(backup + "/stray.ldb");

  // The backup's own copy of LevelDB's MANIFEST: zeroed, then truncated.
  const std::string own = backup + "/" + manifest->files(manifest->files_size() - 2).name();
  ASSERT_EQ(own.find("/MANIFEST-") != std::string::npos || own.find(".log") != std::string::npos,
            true)
      << own;
  const std::string saved = [&] {
    std::ifstream in(own, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), {});
  }();
  {
    std::fstream f(own, std::ios::binary | std::ios::in | std::ios::out);
    f.write(std::string(std::min<size_t>(saved.size(), 4096), '\0').data(),
            std::min<size_t>(saved.size(), 4096));
  }
  EXPECT_EQ(VerifyBackup(backup, nullptr, BackupCheck::kChecksums).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_TRUE(VerifyBackup(backup, nullptr, BackupCheck::kListing).ok());  // sizes only
  fs::resize_file(own, saved.size() / 2);
  EXPECT_EQ(VerifyBackup(backup, nullptr, BackupCheck::kListing).status().code(),
            absl::StatusCode::kDataLoss);
  std::ofstream(own, std::ios::binary | std::ios::trunc) << saved;
  EXPECT_TRUE(VerifyBackup(backup).ok());

  fs::remove(data);
  EXPECT_EQ(VerifyBackup(backup).status().code(), absl::StatusCode::kDataLoss);
  fs::remove(backup + "/" + kManifestFile);
  EXPECT_EQ(VerifyBackup(backup).status().code(), absl::StatusCode::kNotFound);
}

// Issue 14: a second backup copies only the table files that are new; the
// rest are shared through the pool, and both backups restore on their own.
TEST_F(BackupTest, AnIncrementalBackupCopiesOnlyNewTableFiles) {
  auto t = Open(dir_.Sub("live"));
  Load(t.get(), 20000);
  ASSERT_TRUE(t->Compact().ok());
  auto first = t->Snapshot(dir_.Sub("backups"));
  ASSERT_TRUE(first.ok()) << first.status();
  TableBatch b;
  for (int i = 0; i < 200; ++i) b.Put(absl::StrFormat("n%05d", i), "new");
  ASSERT_TRUE(t->Write(b).ok());
  auto second = t->Snapshot(dir_.Sub("backups"));
  ASSERT_TRUE(second.ok()) << second.status();
  // Every table file the first backup holds is shared, never copied again.
  // (What else is copied depends on LevelDB's background work between the
  // two: the logs and MANIFEST always, a table file a compaction wrote.)
  std::set<std::string> in_first;
  for (const auto& f : first->files()) in_first.insert(f.name());
  uint64_t total = 0, shared = 0;
  for (const auto& f : second->files()) {
    total += f.size_bytes();
    if (!f.copied()) shared += f.size_bytes();
    if (f.pooled() && in_first.count(f.name())) EXPECT_FALSE(f.copied()) << f.name();
  }
  EXPECT_GT(shared, total / 2);
  EXPECT_EQ(second->new_bytes(), total - shared);
  EXPECT_EQ(second->record_count(), 20200u);

  const std::string backups = dir_.Sub("backups");
  auto older =
      RestoreBackup(BackupPath(backups, "agent_mailbox", first->backup_id()), dir_.Sub("r1"));
  ASSERT_TRUE(older.ok()) << older.status();
  auto newer =
      RestoreBackup(BackupPath(backups, "agent_mailbox", second->backup_id()), dir_.Sub("r2"));
  ASSERT_TRUE(newer.ok()) << newer.status();
  EXPECT_EQ(Open(dir_.Sub("r1"))->Stats().records(), 20000u);
  EXPECT_EQ(newer->content_hash(), t->Verify()->content_hash);
  // Removing the first backup leaves the pool files the second still lists.
  ASSERT_TRUE(files::RemoveTree(leveldb::Env::Default(),
                                BackupPath(backups, "agent_mailbox", first->backup_id()))
                  .ok());
  PrunePool(leveldb::Env::Default(), backups, "agent_mailbox", absl::ZeroDuration());
  EXPECT_TRUE(VerifyBackup(BackupPath(backups, "agent_mailbox", second->backup_id())).ok());
}

// A live table file whose blocks do not check out never enters the pool;
// the snapshot fails with DATA_LOSS and the table turns corrupted.
TEST_F(BackupTest, ADamagedLiveTableFileIsNeverBackedUp) {
  auto t = Open(dir_.Sub("live"));
  Load(t.get(), 20000);
  ASSERT_TRUE(t->Compact().ok());
  testing::FlipBytesInLargestTableFile(dir_.Sub("live"));
  auto manifest = t->Snapshot(dir_.Sub("backups"));
  EXPECT_EQ(manifest.status().code(), absl::StatusCode::kDataLoss) << manifest.status();
  EXPECT_THAT(manifest.status().message(), HasSubstr("not backed up"));
  EXPECT_EQ(t->state(), common::v1::TABLE_STATE_CORRUPTED);
  EXPECT_TRUE(ListBackups(dir_.Sub("backups"), "agent_mailbox")->empty());
  for (const auto& e : fs::directory_iterator(PoolPath(dir_.Sub("backups"), "agent_mailbox"))) {
    ADD_FAILURE() << "in the pool: " << e.path();
  }
}

// A backup taken while a writer writes holds exactly the writes
// acknowledged before one moment: keys are written in order, so the
// restored table must hold a prefix of them, as many as the manifest says.
TEST_F(BackupTest, ABackupUnderWritesIsAConsistentPrefix) {
  auto t = Open(dir_.Sub("live"));
  std::atomic<bool> stop{false};
  std::atomic<int> written{0};
  std::thread writer([&] {
    for (int i = 0; !stop; ++i) {
      ASSERT_TRUE(t->Put(absl::StrFormat("k%07d", i), std::string(300, 'v')).ok());
      written = i + 1;
    }
  });
  while (written < 3000) absl::SleepFor(absl::Milliseconds(5));
  auto manifest = t->Snapshot(dir_.Sub("backups"));
  const uint64_t until = (manifest.ok() ? manifest->record_count() : 0) + 1000;
  while (static_cast<uint64_t>(written) < until) absl::SleepFor(absl::Milliseconds(5));
  stop = true;
  writer.join();
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  auto restored = RestoreBackup(
      BackupPath(dir_.Sub("backups"), "agent_mailbox", manifest->backup_id()), dir_.Sub("r"));
  ASSERT_TRUE(restored.ok()) << restored.status();
  auto r = Open(dir_.Sub("r"));
  uint64_t n = 0;
  ASSERT_TRUE(r->Scan("", "", [&](absl::string_view k, absl::string_view) {
                 EXPECT_EQ(k, absl::StrFormat("k%07d", n));
                 ++n;
                 return true;
               }).ok());
  EXPECT_EQ(n, manifest->record_count());
  EXPECT_GE(n, 3000u);
}

// Format 1 backups (records re-encoded, from before file-level backups)
// still verify and restore.
TEST_F(BackupTest, FormatOneBackupsStillRestore) {
  auto writer = BackupWriter::Create(nullptr, dir_.Sub("backups"), "agent_mailbox", absl::Now());
  ASSERT_TRUE(writer.ok());
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE((*writer)->Add(absl::StrFormat("k%07d", i), "v").ok());
  }
  auto manifest = (*writer)->Commit();
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  EXPECT_EQ(manifest->format_version(), kBackupFormatVersion);
  const std::string backup =
      BackupPath(dir_.Sub("backups"), "agent_mailbox", manifest->backup_id());
  ASSERT_TRUE(VerifyBackup(backup).ok());
  ASSERT_TRUE(RestoreBackup(backup, dir_.Sub("r")).ok());
  auto r = Open(dir_.Sub("r"));
  EXPECT_EQ(r->Stats().records(), 1000u);
  EXPECT_EQ(r->Verify()->content_hash, manifest->content_hash());
}

// The scrub re-reads the pool: a damaged file the live table still has is
// replaced by an identical copy (the damaged one kept aside); one the table
// no longer has makes the backups listing it unusable.
TEST_F(BackupTest, TheScrubRepairsPoolFilesFromTheLiveTableOrReportsTheBackups) {
  auto t = Open(dir_.Sub("live"));
  Load(t.get(), 20000);
  ASSERT_TRUE(t->Compact().ok());
  const std::string backups = dir_.Sub("backups");
  auto manifest = t->Snapshot(backups);
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  const std::string backup = BackupPath(backups, "agent_mailbox", manifest->backup_id());
  const std::string pooled =
      testing::LargestBackupTableFile(backups, "agent_mailbox", manifest->backup_id());
  leveldb::Env* env = leveldb::Env::Default();

  ScrubReport clean = ScrubPool(env, backups, "agent_mailbox", dir_.Sub("live"));
  EXPECT_GT(clean.files, 0u);
  EXPECT_TRUE(clean.damaged.empty());

  testing::FlipBytes(pooled, fs::file_size(pooled) / 2, 8);
  ScrubReport repaired = ScrubPool(env, backups, "agent_mailbox", dir_.Sub("live"));
  EXPECT_EQ(repaired.damaged.size(), 1u);
  EXPECT_EQ(repaired.repaired, repaired.damaged);
  EXPECT_TRUE(repaired.unusable_backups.empty());
  EXPECT_TRUE(VerifyBackup(backup, env, BackupCheck::kChecksums).ok());
  EXPECT_FALSE(fs::is_empty(backups + "/agent_mailbox/damaged"));  // kept, not deleted

  // The live table moves on (a new file replaces the one backed up).
  TableBatch b;
  for (int i = 0; i < 20000; i += 2) b.Put(absl::StrFormat("k%07d", i), "changed");
  ASSERT_TRUE(t->Write(b).ok());
  ASSERT_TRUE(t->Compact().ok());
  testing::FlipBytes(pooled, fs::file_size(pooled) / 2, 8);
  ScrubReport lost = ScrubPool(env, backups, "agent_mailbox", dir_.Sub("live"));
  EXPECT_EQ(lost.damaged.size(), 1u);
  EXPECT_TRUE(lost.repaired.empty());
  EXPECT_THAT(lost.unusable_backups, ::testing::ElementsAre(manifest->backup_id()));
}

// A restore that meets a damaged pool file takes the identical file from
// the damaged table it replaces, where that file is intact.
TEST_F(BackupTest, ARestoreTakesADamagedPoolFileFromTheDamagedTable) {
  auto t = Open(dir_.Sub("live"));
  Load(t.get(), 20000);
  ASSERT_TRUE(t->Compact().ok());
  const std::string backups = dir_.Sub("backups");
  auto manifest = t->Snapshot(backups);
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  const std::string expected = t->Verify()->content_hash;
  t.reset();
  const std::string backup = BackupPath(backups, "agent_mailbox", manifest->backup_id());
  const std::string pooled =
      testing::LargestBackupTableFile(backups, "agent_mailbox", manifest->backup_id());
  testing::FlipBytes(pooled, fs::file_size(pooled) / 2, 8);
  EXPECT_EQ(RestoreBackup(backup, dir_.Sub("r1")).status().code(), absl::StatusCode::kDataLoss);
  auto restored =
      RestoreBackup(backup, dir_.Sub("r2"), nullptr, RestoreCheck::kRecords, dir_.Sub("live"));
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->content_hash(), expected);
}

TEST_F(BackupTest, ManifestIsCheckedAgainstTheContent) {
  auto t = Open(dir_.Sub("live"));
  Load(t.get(), 100);
  auto manifest = t->Snapshot(dir_.Sub("backups"));
  ASSERT_TRUE(manifest.ok());
  const std::string backup =
      BackupPath(dir_.Sub("backups"), "agent_mailbox", manifest->backup_id());
  const std::string path = backup + "/" + kManifestFile;
  std::ifstream in(path);
  std::string json((std::istreambuf_iterator<char>(in)), {});
  const std::string from = "\"record_count\": \"100\"";
  ASSERT_NE(json.find(from), std::string::npos) << json;
  json.replace(json.find(from), from.size(), "\"record_count\": \"99\"");
  std::ofstream(path, std::ios::trunc) << json;
  auto v = VerifyBackup(backup);
  EXPECT_EQ(v.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(v.status().message(), HasSubstr("holds 100 records, manifest says 99"));
}

// Dies the moment the backup would be renamed into place.
class CrashOnRenameEnv : public leveldb::EnvWrapper {
 public:
  CrashOnRenameEnv() : leveldb::EnvWrapper(leveldb::Env::Default()) {}
  leveldb::Status RenameFile(const std::string& from, const std::string& to) override {
    if (IsBackupId(to.substr(to.rfind('/') + 1))) _exit(0);
    return target()->RenameFile(from, to);
  }
};

TEST_F(BackupTest, CrashBeforeRenameLeavesNoBackupVisible) {
  const std::string live = dir_.Sub("live");
  {
    auto t = Open(live);
    Load(t.get(), 1000);
  }
  EXPECT_EXIT(
      {
        CrashOnRenameEnv env;
        auto t = Open(live, &env);
        (void)t->Snapshot(dir_.Sub("backups"));
        _exit(1);  // not reached when the snapshot got as far as the rename
      },
      ::testing::ExitedWithCode(0), "");
  auto ids = ListBackups(dir_.Sub("backups"), "agent_mailbox");
  ASSERT_TRUE(ids.ok());
  EXPECT_TRUE(ids->empty());
  // What the crash left is a temporary directory, and pool files no backup
  // lists, which pruning removes once they are old enough.
  int temps = 0;
  for (const auto& e : fs::directory_iterator(dir_.Sub("backups") + "/agent_mailbox")) {
    if (e.path().filename() == kPoolDir) continue;
    EXPECT_EQ(e.path().filename().string().rfind(kTempPrefix, 0), 0u);
    ++temps;
  }
  EXPECT_EQ(temps, 1);
  const std::string pool = PoolPath(dir_.Sub("backups"), "agent_mailbox");
  EXPECT_FALSE(fs::is_empty(pool));
  EXPECT_TRUE(
      PrunePool(leveldb::Env::Default(), dir_.Sub("backups"), "agent_mailbox", absl::Hours(1))
          .empty());
  EXPECT_FALSE(
      PrunePool(leveldb::Env::Default(), dir_.Sub("backups"), "agent_mailbox", absl::ZeroDuration())
          .empty());
  EXPECT_TRUE(fs::is_empty(pool));
}

}  // namespace
}  // namespace agentcom::storage
