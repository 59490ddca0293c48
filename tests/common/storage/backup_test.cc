// Snapshots and the backup format (issue 2, item 5): point-in-time
// consistency under concurrent writes, manifest equal to Verify, damage
// detected, a crash before the rename leaves nothing visible, restore.
#include "common/storage/backup.h"

#include <leveldb/env.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
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
  EXPECT_EQ(manifest->content_hash(), verify->content_hash);
  EXPECT_EQ(manifest->table(), "agent_mailbox");
  EXPECT_FALSE(manifest->files().empty());

  auto ids = ListBackups(dir_.Sub("backups"), "agent_mailbox");
  ASSERT_TRUE(ids.ok());
  ASSERT_EQ(ids->size(), 1u);
  EXPECT_EQ((*ids)[0], manifest->backup_id());
  const std::string backup = BackupPath(dir_.Sub("backups"), "agent_mailbox", (*ids)[0]);
  auto checked = VerifyBackup(backup);
  ASSERT_TRUE(checked.ok()) << checked.status();

  auto restored = RestoreBackup(backup, dir_.Sub("restored"));
  ASSERT_TRUE(restored.ok()) << restored.status();
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
  const std::string data = backup + "/" + manifest->files(0).name();

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

  fs::remove(data);
  EXPECT_EQ(VerifyBackup(backup).status().code(), absl::StatusCode::kDataLoss);
  fs::remove(backup + "/" + kManifestFile);
  EXPECT_EQ(VerifyBackup(backup).status().code(), absl::StatusCode::kNotFound);
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
    if (from.find(kTempPrefix) != std::string::npos) _exit(0);
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
  // What the crash left is a temporary directory only.
  int temps = 0;
  for (const auto& e : fs::directory_iterator(dir_.Sub("backups") + "/agent_mailbox")) {
    EXPECT_EQ(e.path().filename().string().rfind(kTempPrefix, 0), 0u);
    ++temps;
  }
  EXPECT_EQ(temps, 1);
}

}  // namespace
}  // namespace agentcom::storage
