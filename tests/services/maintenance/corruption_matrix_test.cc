// The corruption matrix (issue 14): for each kind of file a table and its
// backups consist of, and each kind of damage, what detects it, what the
// restore brings back and how many acknowledged writes are lost. Real
// LevelDB files, real damage, maintenance's own Restorer and TableInstaller;
// the store processes play in-process (FakeProcesses), so the times are
// those of the restore's own work, without supervisord's process restarts.
//
// Every row asserts what it can promise: no write is lost where an intact
// copy of every byte still exists (in the backups, the archive or the
// damaged table). With AGENTCOM_MATRIX_OUT set, the table is written there
// (docs/corruption-matrix.md is generated this way).
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/storage/backup.h"
#include "common/storage/file_backup.h"
#include "common/storage/wal.h"
#include "common/storage/wal_archive.h"
#include "common/storage/wal_shipper.h"
#include "gtest/gtest.h"
#include "services/maintenance/maintenance.h"
#include "tests/support/fake_processes.h"
#include "tests/support/test_support.h"

namespace agentcom::maintenance {
namespace {

namespace fs = std::filesystem;

enum class Damage { kFlip, kZero4k, kTruncate, kDelete };
enum class Target {
  kTableFile,
  kNewestLog,
  kManifest,
  kCurrent,
  kArchivedLog,
  kPoolFile,
  kBackupManifest
};

const char* Name(Damage d) {
  switch (d) {
    case Damage::kFlip:
      return "flipped byte";
    case Damage::kZero4k:
      return "zeroed 4 KiB";
    case Damage::kTruncate:
      return "truncated to half";
    case Damage::kDelete:
      return "deleted";
  }
  return "";
}

const char* Name(Target t) {
  switch (t) {
    case Target::kTableFile:
      return "table file (`.ldb`)";
    case Target::kNewestLog:
      return "newest log";
    case Target::kManifest:
      return "`MANIFEST-*`";
    case Target::kCurrent:
      return "`CURRENT`";
    case Target::kArchivedLog:
      return "archived log";
    case Target::kPoolFile:
      return "pool file (newest backup)";
    case Target::kBackupManifest:
      return "`MANIFEST.json` (newest backup)";
  }
  return "";
}

// Damage on the backup side, which only matters once a restore needs it.
bool BackupSide(Target t) {
  return t == Target::kArchivedLog || t == Target::kPoolFile || t == Target::kBackupManifest;
}

void Apply(const std::string& path, Damage d) {
  const uint64_t size = fs::file_size(path);
  switch (d) {
    case Damage::kFlip:
      testing::FlipBytes(path, size / 2, 1);
      break;
    case Damage::kZero4k: {
      const uint64_t n = std::min<uint64_t>(4096, size);
      std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
      f.seekp(static_cast<std::streamoff>(size / 2 > n / 2 ? size / 2 - n / 2 : 0));
      f.write(std::string(n, '\0').data(), static_cast<std::streamsize>(n));
      break;
    }
    case Damage::kTruncate:
      fs::resize_file(path, size / 2);
      break;
    case Damage::kDelete:
      fs::remove(path);
      break;
  }
}

std::string Highest(const std::string& dir) {
  std::string best;
  uint64_t number = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    auto n = storage::LogFileNumber(e.path().filename().string());
    if (n.has_value() && *n >= number) {
      number = *n;
      best = e.path().string();
    }
  }
  return best;
}

struct Row {
  Target target;
  Damage damage;
  // The logs were shipped to the backup directory (as a store does every
  // wal_ship_interval_ms) after the last write and before the damage.
  bool shipped = false;
  std::string detected_by = {};
  std::string restored_from = {};
  uint64_t lost = 0;
  double seconds = 0;
};

class CorruptionMatrix {
 public:
  explicit CorruptionMatrix(Row* row) : row_(row) {
    topology_ = testing::MakeTopology(dir_.path(), {{"mailbox", {"agent_mailbox"}}});
    processes_ = std::make_unique<testing::FakeProcesses>(topology_);
    events_ = std::make_unique<EventLog>(topology_.state_dir() + "/events.jsonl", &clock_);
    EXPECT_TRUE(events_->Load().ok());
    core_ =
        std::make_unique<MaintenanceCore>(MaintenanceCore::Options{.topology = topology_,
                                                                   .clock = &clock_,
                                                                   .supervisor = processes_.get(),
                                                                   .stores = processes_.get(),
                                                                   .events = events_.get()});
    EXPECT_TRUE(core_->Start().ok());
  }

  void Run() {
    // History: a backup, writes, a second backup, writes over several
    // memtable flushes (logs retired into the archive), overwrites and
    // deletes, and the last writes still in the live log.
    Write(0, 2000, 'a');
    ASSERT_TRUE(Table()->Compact().ok());
    older_ = Backup();
    Write(1000, 3000, 'b');
    ASSERT_TRUE(Table()->Compact().ok());
    newest_ = Backup();
    Write(2500, 3500, 'c');
    ASSERT_TRUE(Table()->Compact().ok());  // retires the log into the archive
    Delete(0, 200);
    Write(3500, 3700, 'd');  // only in the live log
    expected_ = Contents();
    if (row_->shipped) {
      storage::WalShipper shipper(leveldb::Env::Default(), &clock_, TableDir(),
                                  storage::ShippedWalRoot(topology_.backup_dir(), "agent_mailbox"));
      ASSERT_TRUE(shipper.ShipOnce().ok());
    }

    ASSERT_TRUE(processes_->Stop("mailbox").ok());
    const std::string target = TargetPath();
    ASSERT_FALSE(target.empty()) << Name(row_->target);
    Apply(target, row_->damage);
    if (BackupSide(row_->target)) {
      // A restore is what reads the backup side: damage the live table too.
      testing::FlipBytesInLargestTableFile(TableDir(), 8);
    }
    ASSERT_TRUE(processes_->Start("mailbox").ok());

    std::optional<std::string> detection = Detect();
    if (!detection.has_value()) {
      row_->detected_by = "not detected (LevelDB opens it as after a crash)";
      row_->restored_from = "no restore";
      row_->lost = Lost();
      return;
    }
    const absl::Time start = absl::Now();
    auto result = core_->RestoreTable("agent_mailbox", "", v1::TRIGGER_AUTO);
    row_->seconds = absl::ToDoubleSeconds(absl::Now() - start);
    ASSERT_TRUE(result.ok()) << result.status();
    // Backup-side damage is found by the restore that needs it (the live
    // damage that triggered the restore is not what the row is about).
    std::vector<std::string> found;
    if (!BackupSide(row_->target)) found.push_back(*detection);
    if (result->rejected_backups_size() > 0) found.push_back("restore: backup checksum");
    if (absl::StrContains(absl::StrJoin(result->replay_problems(), "\n"), "shipped copy")) {
      found.push_back("replay: damaged log (its shipped copy used)");
    } else if (!result->replay_problems().empty()) {
      found.push_back("replay: damaged or missing log");
    }
    if (found.empty()) found.push_back("nothing (the restore did not need it)");
    row_->detected_by = absl::StrJoin(found, "; ");
    if (result->outcome() == v1::RESTORE_OUTCOME_DEGRADED) {
      row_->restored_from = "nothing (degraded)";
    } else {
      row_->restored_from =
          absl::StrCat(result->backup_id() == newest_ ? "newest backup" : "older backup", " + ",
                       result->replayed_operations(), " writes replayed");
    }
    row_->lost = Lost();
  }

 private:
  storage::Table* Table() { return *processes_->Find("agent_mailbox"); }
  std::string TableDir() const { return topology_.data_dir() + "/agent_mailbox"; }
  std::string Key(int i) const { return absl::StrFormat("k%06d", i); }
  void Write(int from, int to, char fill) {
    for (int i = from; i < to; i += 100) {
      storage::TableBatch b;
      for (int j = i; j < std::min(to, i + 100); ++j) b.Put(Key(j), std::string(150, fill));
      ASSERT_TRUE(Table()->Write(b).ok());
    }
  }
  void Delete(int from, int to) {
    storage::TableBatch b;
    for (int j = from; j < to; ++j) b.Delete(Key(j));
    ASSERT_TRUE(Table()->Write(b).ok());
  }
  std::string Backup() {
    clock_.Advance(absl::Seconds(1));
    auto r = core_->BackupTable("agent_mailbox", v1::TRIGGER_MANUAL);
    EXPECT_TRUE(r.ok() && r->results(0).ok());
    return r.ok() ? r->results(0).backup_id() : "";
  }
  std::map<std::string, std::string> Contents() {
    std::map<std::string, std::string> out;
    (void)Table()->Scan("", "", [&](absl::string_view k, absl::string_view v) {
      out.emplace(k, v);
      return true;
    });
    return out;
  }
  // Acknowledged writes whose effect the served table does not show: keys
  // missing or with another value, and deleted keys that came back.
  uint64_t Lost() {
    auto table = processes_->Find("agent_mailbox");
    if (!table.ok() || (*table)->state() == common::v1::TABLE_STATE_CORRUPTED) {
      return expected_.size();
    }
    const std::map<std::string, std::string> now = Contents();
    uint64_t lost = 0;
    for (const auto& [k, v] : expected_) {
      auto it = now.find(k);
      if (it == now.end() || it->second != v) ++lost;
    }
    for (const auto& [k, v] : now) lost += expected_.count(k) == 0 ? 1 : 0;
    return lost;
  }
  std::optional<std::string> Detect() {
    auto table = processes_->Find("agent_mailbox");
    if (!table.ok()) return "the store cannot open the table";
    if ((*table)->state() == common::v1::TABLE_STATE_CORRUPTED) return "the store, at open";
    if (!(*table)->Verify().ok() || (*table)->state() == common::v1::TABLE_STATE_CORRUPTED) {
      return "a read (block CRC)";
    }
    return std::nullopt;
  }
  std::string TargetPath() const {
    const std::string backups = topology_.backup_dir();
    switch (row_->target) {
      case Target::kTableFile:
        return testing::LargestFileWithExtension(TableDir(), ".ldb");
      case Target::kNewestLog:
        return Highest(TableDir());
      case Target::kManifest:
        for (const auto& e : fs::directory_iterator(TableDir())) {
          if (e.path().filename().string().rfind("MANIFEST-", 0) == 0) return e.path().string();
        }
        return "";
      case Target::kCurrent:
        return TableDir() + "/CURRENT";
      case Target::kArchivedLog:
        return Highest(TableDir() + "/" + storage::kWalArchiveDir);
      case Target::kPoolFile:
        return testing::LargestBackupTableFile(backups, "agent_mailbox", newest_);
      case Target::kBackupManifest:
        return storage::BackupPath(backups, "agent_mailbox", newest_) + "/" +
               storage::kManifestFile;
    }
    return "";
  }

  Row* row_;
  testing::TempDir dir_;
  config::Topology topology_;
  ManualClock clock_;
  std::unique_ptr<testing::FakeProcesses> processes_;
  std::unique_ptr<EventLog> events_;
  std::unique_ptr<MaintenanceCore> core_;
  std::string older_, newest_;
  std::map<std::string, std::string> expected_;
};

// Where one intact copy of every byte still exists somewhere, nothing may be
// lost. A log (live, or archived after the last backup) is the only copy of
// the writes it holds that no backup has, so damage there can lose them.
// With the logs shipped, a damaged log has an intact copy too, and a live
// log truncated or deleted since it was shipped is found before LevelDB
// opens the table (which would take it for a crash).
bool MustLoseNothing(const Row& row) {
  if (row.target != Target::kNewestLog && row.target != Target::kArchivedLog) return true;
  if (!row.shipped) return false;
  return true;
}

TEST(CorruptionMatrixTest, EveryFileKindAndDamage) {
  std::vector<Row> rows;
  for (Target t : {Target::kTableFile, Target::kNewestLog, Target::kManifest, Target::kCurrent,
                   Target::kArchivedLog, Target::kPoolFile, Target::kBackupManifest}) {
    const bool log = t == Target::kNewestLog || t == Target::kArchivedLog;
    for (bool shipped : {false, true}) {
      if (shipped && !log) continue;
      for (Damage d : {Damage::kFlip, Damage::kZero4k, Damage::kTruncate, Damage::kDelete}) {
        Row row{.target = t, .damage = d, .shipped = shipped};
        CorruptionMatrix(&row).Run();
        if (MustLoseNothing(row)) {
          EXPECT_EQ(row.lost, 0u) << Name(t) << (shipped ? " (shipped)" : "") << ", " << Name(d)
                                  << ": " << row.detected_by << " / " << row.restored_from;
        }
        rows.push_back(row);
      }
    }
  }
  std::string md =
      "| file | damage | detected by | restored from | acknowledged writes lost | restore s |\n"
      "|---|---|---|---|---:|---:|\n";
  for (const Row& r : rows) {
    absl::StrAppend(&md, "| ", Name(r.target), r.shipped ? ", logs shipped" : "", " | ",
                    Name(r.damage), " | ", r.detected_by, " | ", r.restored_from, " | ", r.lost,
                    " | ", absl::StrFormat("%.3f", r.seconds), " |\n");
  }
  std::cout << md;
  if (const char* out = std::getenv("AGENTCOM_MATRIX_OUT"); out != nullptr) {
    std::ofstream(out) << md;
  }
}

}  // namespace
}  // namespace agentcom::maintenance
