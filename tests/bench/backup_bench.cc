// Backup and restore benchmark for file-level backups (issue 14), in one
// process on the storage layer the stores run (LevelDbTable, the backup pool,
// RestoreBackup), every figure next to a baseline measured in the same run:
//   1. full backup vs `dd conv=fsync` of the same bytes;
//   2. incremental backup after 1% of the records changed vs the full one;
//   3. restore to a verified, open table vs `cp` of the table's files;
//   4. sync write throughput with the write-ahead log archive vs without;
//   5. writers' p99 during a backup vs without;
//   6. sync write throughput while the logs are shipped every second vs not;
//   7. writers' p99 during a full compaction with LevelDB's background work
//      at the stores' background nice (kBackgroundNice) vs at normal priority.
//   8. sync write throughput through the table with each batch's commit
//      time recorded (for point-in-time restores, issue 16) vs without.
//   9. a point-in-time restore (backup + logs replayed up to a moment) vs a
//      latest-state restore (backup + every log) of the same table.
//  10. uploading table files to a local OpenStack Swift through its S3 API
//      (as the remote mirror does, 4 at a time) vs `cp` + `sync` of the
//      same bytes.
// The full system's restore (supervisord stop/start included) is in
// agentcom_bench. See BENCHMARKS.md.
//
//   build/bin/agentcom_backup_bench --records=1000000

#include <leveldb/db.h>
#include <leveldb/env.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/files/files.h"
#include "common/remote/s3_destination.h"
#include "common/storage/backup.h"
#include "common/storage/table.h"
#include "common/storage/wal_archive.h"
#include "common/storage/wal_replay.h"
#include "common/storage/wal_shipper.h"
#include "tests/support/local_swift.h"
#include "tests/support/test_support.h"

ABSL_FLAG(int, records, 1000000, "Records of ~200 bytes in the table.");
ABSL_FLAG(int, writers, 8, "Concurrent writers for the write measurements.");
ABSL_FLAG(bool, smoke, false, "Tiny sizes: proves the benchmark runs.");
ABSL_FLAG(bool, commit_times_only, false, "Run sections 8 and 9 alone.");
ABSL_FLAG(bool, replay_only, false, "Run section 9 (restores that replay logs) alone.");
ABSL_FLAG(bool, remote_only, false, "Run section 10 alone.");
ABSL_FLAG(bool, restore_only, false, "Stop after section 3 (the restore).");
ABSL_FLAG(bool, compaction_only, false, "Run section 7 (writers during a compaction) alone.");
ABSL_FLAG(int, remote_mib, 256, "MiB uploaded in section 10 (in 2 MiB table-sized files).");

namespace agentcom::bench {
namespace {

namespace fs = std::filesystem;
using storage::Table;

double Seconds(absl::Time since) { return absl::ToDoubleSeconds(absl::Now() - since); }

std::unique_ptr<Table> OpenTable(const std::string& dir, int nice = storage::kBackgroundNice,
                                 bool commit_times = true) {
  storage::TableOptions o;
  o.background_nice = nice;
  o.record_commit_times = commit_times;
  o.name = "agentcom_config";
  o.dir = dir;
  o.storage.set_durability(common::v1::DURABILITY_SYNC);
  o.storage.set_block_cache_mb(8);
  o.storage.set_write_buffer_mb(4);
  o.storage.set_max_open_files(500);
  auto t = storage::OpenTable(o);
  if (!t.ok()) {
    std::cerr << t.status() << "\n";
    std::exit(1);
  }
  return *std::move(t);
}

std::string Key(int i) { return absl::StrFormat("key%09d", i); }

uint64_t DirBytes(const std::string& dir) {
  uint64_t total = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) total += e.file_size();
  }
  return total;
}

// Per-op latencies (ms) of `writers` threads doing sync puts until `stop`.
std::vector<double> WriteUntil(Table* t, int writers, std::atomic<bool>* stop, int records) {
  std::vector<std::vector<double>> lat(writers);
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; !*stop; ++i) {
        const absl::Time s = absl::Now();
        (void)t->Put(Key((w * 7919 + i * 104729) % records), std::string(180, 'w'));
        lat[w].push_back(absl::ToDoubleMilliseconds(absl::Now() - s));
      }
    });
  }
  for (auto& th : threads) th.join();
  std::vector<double> all;
  for (auto& l : lat) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  return all;
}

double P99(const std::vector<double>& sorted) {
  return sorted.empty() ? 0 : sorted[std::min(sorted.size() - 1, sorted.size() * 99 / 100)];
}

// Sync puts per second into a plain LevelDB through `env`, `writers` threads.
double SyncPutRate(leveldb::Env* env, const std::string& dir, int writers, int per_writer) {
  leveldb::Options o;
  o.create_if_missing = true;
  o.env = env;
  o.write_buffer_size = 256 << 10;  // small: logs retire (and are archived) often
  leveldb::DB* raw = nullptr;
  if (!leveldb::DB::Open(o, dir, &raw).ok()) std::exit(1);
  std::unique_ptr<leveldb::DB> db(raw);
  leveldb::WriteOptions sync;
  sync.sync = true;
  const absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < per_writer; ++i) {
        (void)db->Put(sync, Key(w * per_writer + i), std::string(180, 'a'));
      }
    });
  }
  for (auto& th : threads) th.join();
  return writers * per_writer / Seconds(start);
}

// Sync batches of one put per second through LevelDbTable (the group
// committer the stores use), `writers` threads.
double TablePutRate(const std::string& dir, bool commit_times, int writers, int per_writer) {
  auto t = OpenTable(dir, storage::kBackgroundNice, commit_times);
  const absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < per_writer; ++i) {
        if (!t->Put(Key(w * per_writer + i), std::string(180, 'a')).ok()) std::exit(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  return writers * per_writer / Seconds(start);
}

// 8. Commit times on vs off, alternating, median of 5.
void CommitTimeCost(testing::TempDir& dir, int writers, int per_writer) {
  std::vector<double> on, off;
  for (int rep = 0; rep < 5; ++rep) {
    on.push_back(TablePutRate(dir.Sub(absl::StrCat("times-on-", rep)), true, writers, per_writer));
    off.push_back(
        TablePutRate(dir.Sub(absl::StrCat("times-off-", rep)), false, writers, per_writer));
  }
  std::sort(on.begin(), on.end());
  std::sort(off.begin(), off.end());
  std::cout << absl::StrFormat(
      "8. sync puts/s through the table, %d writers, median of 5: commit times recorded %.0f, "
      "not recorded %.0f; ratio %.3fx\n",
      writers, on[2], off[2], on[2] / off[2]);
}

// 9. Half the records in a backup, the other half (new keys and
// overwrites) written after it with commit times; restores of the table to
// a moment in the middle of those writes vs to its latest state, each to a
// verified table (backup copied, logs replayed, every record traversed).
void PointInTimeRestore(testing::TempDir& dir, int records) {
  const std::string live = dir.Sub("pitr-live");
  const std::string backups = dir.Sub("pitr-backups");
  absl::Time middle;
  std::string backup_id;
  uint64_t first_log = 0;
  {
    auto t = OpenTable(live);
    auto load = [&](int from, int to, char fill) {
      for (int i = from; i < to; i += 1000) {
        storage::TableBatch b;
        for (int j = i; j < std::min(to, i + 1000); ++j) b.Put(Key(j), std::string(180, fill));
        if (!t->Write(b).ok()) std::exit(1);
      }
    };
    load(0, records / 2, 'a');
    auto m = t->Snapshot(backups);
    if (!m.ok()) std::exit(1);
    backup_id = m->backup_id();
    first_log = m->first_log_number();
    load(records / 4, records / 2, 'b');  // overwrites
    middle = absl::Now();
    load(records / 2, records, 'c');  // new keys
  }
  // Seconds of each step of the last restore to the latest state.
  double install_s = 0, replay_s = 0, open_s = 0, verify_s = 0;
  auto restore = [&](const std::string& to, std::optional<absl::Time> until) {
    const absl::Time s = absl::Now();
    if (!storage::RestoreBackup(storage::BackupPath(backups, "agentcom_config", backup_id), to,
                                leveldb::Env::Default(), storage::RestoreCheck::kFiles)
             .ok()) {
      std::exit(1);
    }
    const absl::Time installed = absl::Now();
    auto report = storage::ReplayWalLogs(
        leveldb::Env::Default(), to, storage::ListWalLogs(leveldb::Env::Default(), live, first_log),
        {.until = until, .read_back = false});
    if (!report.ok()) std::exit(1);
    const absl::Time replayed = absl::Now();
    // As a restore installs it: RESTORING until the store's FinishRestore
    // has counted and verified every record (the only read of the result).
    if (!files::WriteFileAtomically(leveldb::Env::Default(),
                                    absl::StrCat(to, "/", storage::kRestoringMarkerFile), "bench\n")
             .ok()) {
      std::exit(1);
    }
    auto opened = OpenTable(to);
    const absl::Time open = absl::Now();
    auto verified = opened->FinishRestore({});
    if (!verified.ok()) std::exit(1);
    if (!until.has_value()) {
      install_s = absl::ToDoubleSeconds(installed - s);
      replay_s = absl::ToDoubleSeconds(replayed - installed);
      open_s = absl::ToDoubleSeconds(open - replayed);
      verify_s = Seconds(open);
    }
    return std::make_pair(Seconds(s), verified->record_count);
  };
  std::vector<double> point, latest;
  uint64_t point_records = 0, latest_records = 0;
  for (int rep = 0; rep < 3; ++rep) {
    auto [ps, pr] = restore(dir.Sub(absl::StrCat("pitr-point-", rep)), middle);
    auto [ls, lr] = restore(dir.Sub(absl::StrCat("pitr-latest-", rep)), std::nullopt);
    point.push_back(ps);
    latest.push_back(ls);
    point_records = pr;
    latest_records = lr;
  }
  std::sort(point.begin(), point.end());
  std::sort(latest.begin(), latest.end());
  std::cout << absl::StrFormat(
      "9. restore of %d records (half in the backup, half after it), median of 3: to a moment "
      "in between %.2f s (%d records), to the latest state %.2f s (%d records; last one: "
      "install %.2f, replay %.2f, open %.2f, verify %.2f); ratio %.2fx\n",
      records, point[1], point_records, latest[1], latest_records, install_s, replay_s, open_s,
      verify_s, point[1] / latest[1]);
}

void RemoteUpload(testing::TempDir& dir, int mib) {
  testing::LocalSwift swift;
  if (!swift.ok()) {
    std::cerr << "10. Swift did not start (deploy/swift/start-swift.sh)\n";
    std::exit(1);
  }
  const std::string src = dir.Sub("upload-src");
  fs::create_directories(src);
  constexpr int kFileBytes = 2 << 20;  // LevelDB's table file size
  const int count = std::max(1, mib / 2);
  std::string data(kFileBytes, '\0');
  uint64_t x = 88172645463325252ull;
  std::vector<std::string> names;
  for (int i = 0; i < count; ++i) {
    for (size_t j = 0; j + 8 <= data.size(); j += 8) {  // incompressible
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      std::memcpy(&data[j], &x, 8);
    }
    names.push_back(absl::StrFormat("%06d.ldb", i + 1));
    std::ofstream(absl::StrCat(src, "/", names.back()), std::ios::binary) << data;
  }
  testing::RunCommand("sync");
  const absl::Time copy_start = absl::Now();
  testing::RunCommand(absl::StrCat("cp -r ", src, " ", dir.Sub("upload-copy"), " && sync"));
  const double copy = Seconds(copy_start);

  remote::S3Options o;
  o.endpoint = swift.endpoint();
  o.bucket = "bench";
  o.access_key_id = swift.access_key_id();
  o.secret_access_key = swift.secret_access_key();
  remote::S3Destination s3(o);
  if (auto s = s3.Prepare(); !s.ok()) {
    std::cerr << "10. " << s << "\n";
    std::exit(1);
  }
  std::atomic<int> next{0};
  std::atomic<int> failed{0};
  const absl::Time upload_start = absl::Now();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = next++; i < count; i = next++) {
        if (!s3.Upload(absl::StrCat(src, "/", names[i]), 0, kFileBytes,
                       absl::StrCat("t/pool/", names[i]))
                 .ok()) {
          ++failed;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const double upload = Seconds(upload_start);
  const double mb = count * (kFileBytes / 1048576.0);
  absl::PrintF(
      "10. %.0f MiB of table files (%d x 2 MiB): uploaded to a local Swift (S3 API, 4 at a "
      "time, MD5 and SHA-256 checked) in %.2f s = %.0f MiB/s; cp + sync %.2f s = %.0f MiB/s; "
      "ratio %.2fx%s\n",
      mb, count, upload, mb / upload, copy, mb / copy, upload / copy,
      failed > 0 ? absl::StrCat(" (", failed.load(), " uploads FAILED)") : "");
}

// 7. Writers' latency during a full compaction: a table loaded with every
// record, then half of them overwritten (LevelDB's own compactions during
// the load leave the overwrites above the bottom level), then fully
// compacted while writers run, and the same writers for 2 s once the
// compaction is over (the baseline); once with LevelDB's background work at
// the stores' lower priority, once at normal priority, alternating.
void CompactionStall(const testing::TempDir& dir, int writers, int records) {
  struct Arm {
    std::vector<double> p99, worst, quiet_p99, quiet_worst, seconds;
  };
  std::map<int, Arm> arms;
  for (int rep = 0; rep < 2; ++rep) {
    for (int nice : {storage::kBackgroundNice, 0}) {
      auto t = OpenTable(dir.Sub(absl::StrCat("compact-", nice, "-", rep)), nice);
      for (int round = 0; round < 2; ++round) {
        for (int i = 0; i < records; i += 1000) {
          storage::TableBatch b;
          for (int j = i; j < std::min(records, i + 1000); j += round + 1) {
            b.Put(Key(j), std::string(180, static_cast<char>('a' + round)));
          }
          if (!t->Write(b).ok()) std::exit(1);
        }
      }
      Arm& arm = arms[nice];
      std::atomic<bool> stop{false};
      std::thread compactor([&] {
        absl::SleepFor(absl::Milliseconds(100));
        const absl::Time s = absl::Now();
        (void)t->Compact();
        arm.seconds.push_back(Seconds(s));
        stop = true;
      });
      std::vector<double> lat = WriteUntil(t.get(), writers, &stop, records);
      compactor.join();
      arm.p99.push_back(P99(lat));
      arm.worst.push_back(lat.empty() ? 0 : lat.back());
      stop = false;
      std::thread timer([&] {
        absl::SleepFor(absl::Seconds(2));
        stop = true;
      });
      lat = WriteUntil(t.get(), writers, &stop, records);
      timer.join();
      arm.quiet_p99.push_back(P99(lat));
      arm.quiet_worst.push_back(lat.empty() ? 0 : lat.back());
    }
  }
  auto mean = [](const std::vector<double>& v) {
    double sum = 0;
    for (double x : v) sum += x;
    return v.empty() ? 0 : sum / v.size();
  };
  for (int nice : {storage::kBackgroundNice, 0}) {
    const Arm& a = arms[nice];
    std::cout << absl::StrFormat(
        "7. writers (%d) during a full compaction of %d records at nice %d, mean of 2: p99 "
        "%.2f ms, worst op %.2f ms (compaction %.2f s); without: p99 %.2f ms, worst op %.2f ms; "
        "p99 ratio %.2fx\n",
        writers, records, nice, mean(a.p99), mean(a.worst), mean(a.seconds), mean(a.quiet_p99),
        mean(a.quiet_worst), mean(a.p99) / mean(a.quiet_p99));
  }
}

int Main() {
  const bool smoke = absl::GetFlag(FLAGS_smoke);
  const int records = smoke ? 5000 : absl::GetFlag(FLAGS_records);
  const int writers = absl::GetFlag(FLAGS_writers);
  testing::TempDir dir;
  if (absl::GetFlag(FLAGS_remote_only)) {
    RemoteUpload(dir, smoke ? 8 : absl::GetFlag(FLAGS_remote_mib));
    return 0;
  }
  if (absl::GetFlag(FLAGS_compaction_only)) {
    CompactionStall(dir, writers, records);
    return 0;
  }
  if (absl::GetFlag(FLAGS_replay_only)) {
    PointInTimeRestore(dir, records);
    return 0;
  }
  if (absl::GetFlag(FLAGS_commit_times_only)) {
    CommitTimeCost(dir, writers, smoke ? 200 : 2000);
    PointInTimeRestore(dir, records);
    return 0;
  }
  const std::string live = dir.Sub("live");
  const std::string backups = dir.Sub("backups");
  auto table = OpenTable(live);

  const absl::Time load = absl::Now();
  for (int i = 0; i < records; i += 1000) {
    storage::TableBatch b;
    for (int j = i; j < std::min(records, i + 1000); ++j) {
      b.Put(Key(j), absl::StrFormat("%0180d", j));  // ~200 bytes with the key
    }
    if (auto s = table->Write(b); !s.ok()) {
      std::cerr << s << "\n";
      return 1;
    }
  }
  (void)table->Compact();
  std::cout << absl::StrFormat("loaded %d records in %.1f s; table %.1f MB\n", records,
                               Seconds(load), DirBytes(live) / 1048576.0);

  // 1. Full backup vs dd of the same bytes.
  absl::Time t = absl::Now();
  auto full = table->Snapshot(backups);
  const double full_seconds = Seconds(t);
  if (!full.ok()) {
    std::cerr << full.status() << "\n";
    return 1;
  }
  uint64_t full_bytes = 0;
  for (const auto& f : full->files()) full_bytes += f.size_bytes();
  // The same bytes (the table's files, as the backup read them) through dd
  // with one fsync at the end; zeros from /dev/zero measured erratically
  // here (the virtual disk seems to treat them specially).
  t = absl::Now();
  testing::RunCommand(absl::StrCat("cat ", live, "/*.ldb ", live, "/MANIFEST-* ", live,
                                   "/*.log | dd of=", dir.Sub("dd.out"),
                                   " bs=1M conv=fsync iflag=fullblock 2>/dev/null"));
  const double dd_mbps = fs::file_size(dir.Sub("dd.out")) / 1048576.0 / Seconds(t);
  const double full_mbps = full_bytes / 1048576.0 / full_seconds;
  std::cout << absl::StrFormat(
      "1. full backup: %.1f MB in %.2f s = %.0f MB/s; the same bytes through dd conv=fsync %.0f "
      "MB/s; ratio %.2fx\n",
      full_bytes / 1048576.0, full_seconds, full_mbps, dd_mbps, full_mbps / dd_mbps);

  // 2. Incremental after 1% of the records changed.
  for (int i = 0; i < records / 100; i += 1000) {
    storage::TableBatch b;
    for (int j = i; j < std::min(records / 100, i + 1000); ++j) {
      b.Put(Key(j * 97 % records), std::string(180, 'u'));
    }
    (void)table->Write(b);
  }
  t = absl::Now();
  auto incremental = table->Snapshot(backups);
  const double inc_seconds = Seconds(t);
  if (!incremental.ok()) {
    std::cerr << incremental.status() << "\n";
    return 1;
  }
  std::cout << absl::StrFormat(
      "2. incremental backup after 1%% changed: %.3f s, %.1f MB copied; %.1f%% of the full "
      "backup's time\n",
      inc_seconds, incremental->new_bytes() / 1048576.0, 100 * inc_seconds / full_seconds);

  // 3. Restore to a verified open table vs cp of the table's files, three
  // times each, alternating, after a `sync` so neither pays for the other's
  // write-back; medians.
  const storage::VerifyResult expected = *table->Verify();
  std::vector<double> cps, cprs, installs, opens, verifies, totals;
  absl::StatusOr<storage::BackupManifest> restored = absl::UnknownError("not run");
  bool same = true;
  for (int rep = 0; rep < 3; ++rep) {
    testing::RunCommand("sync");
    t = absl::Now();
    // The table's LevelDB files (what a restore copies), not its log archive.
    const std::string copy = dir.Sub(absl::StrCat("copy-", rep));
    testing::RunCommand(absl::StrCat("mkdir -p ", copy, " && cp ", live, "/*.ldb ", live, "/*.log ",
                                     live, "/MANIFEST-* ", live, "/CURRENT ", copy));
    cps.push_back(Seconds(t));
    testing::RunCommand("sync");
    // The baseline: the whole table directory (its log archive too).
    t = absl::Now();
    testing::RunCommand(absl::StrCat("cp -r ", live, " ", dir.Sub(absl::StrCat("copy-r-", rep))));
    cprs.push_back(Seconds(t));
    testing::RunCommand("sync");
    const std::string target = dir.Sub(absl::StrCat("restored-", rep));
    t = absl::Now();
    restored = storage::RestoreBackup(
        storage::BackupPath(backups, "agentcom_config", incremental->backup_id()), target, nullptr,
        storage::RestoreCheck::kFiles);  // as a restore installs
    installs.push_back(Seconds(t));
    if (!restored.ok()) {
      same = false;
      break;
    }
    t = absl::Now();
    auto r = OpenTable(target);
    opens.push_back(Seconds(t));
    t = absl::Now();
    auto v = r->Verify();
    verifies.push_back(Seconds(t));
    totals.push_back(installs.back() + opens.back() + verifies.back());
    // What FinishRestore checks (the count), and that the content is the
    // table's.
    same = same && v.ok() && v->record_count == restored->record_count() &&
           v->content_hash == expected.content_hash;
  }
  auto median = [](std::vector<double> v) {
    if (v.empty()) return 0.0;
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  std::cout << absl::StrFormat(
      "3. restore to verified serving, median of 3: %.2f s (install %.2f, open %.2f, verify "
      "%.2f)%s; cp of the table's files %.2f s, ratio %.1fx; cp -r of the table %.2f s, ratio "
      "%.1fx\n",
      median(totals), median(installs), median(opens), median(verifies),
      same ? "" : " CONTENT DIFFERS", median(cps), median(totals) / median(cps), median(cprs),
      median(totals) / median(cprs));
  if (absl::GetFlag(FLAGS_restore_only)) return same ? 0 : 1;

  // 4. Sync writes with the archive vs a plain Env.
  const int per_writer = smoke ? 200 : 4000;
  std::vector<double> with, without;
  for (int rep = 0; rep < 3; ++rep) {
    const std::string a = dir.Sub(absl::StrCat("wal-on-", rep));
    const std::string b = dir.Sub(absl::StrCat("wal-off-", rep));
    fs::create_directories(a);
    storage::WalArchivingEnv archiving(leveldb::Env::Default(), a);
    with.push_back(SyncPutRate(&archiving, a, writers, per_writer));
    without.push_back(SyncPutRate(leveldb::Env::Default(), b, writers, per_writer));
  }
  std::sort(with.begin(), with.end());
  std::sort(without.begin(), without.end());
  std::cout << absl::StrFormat(
      "4. sync puts/s, %d writers, median of 3: archive on %.0f, off %.0f; ratio %.2fx\n", writers,
      with[1], without[1], with[1] / without[1]);

  // 5. Writers' p99 during a full backup vs without.
  std::vector<double> quiet, during;
  {
    std::atomic<bool> stop{false};
    std::thread timer([&] {
      absl::SleepFor(absl::Seconds(std::max(1.0, full_seconds)));
      stop = true;
    });
    quiet = WriteUntil(table.get(), writers, &stop, records);
    timer.join();
  }
  double during_seconds = 0;
  {
    std::atomic<bool> stop{false};
    // A fresh pool: the backup copies every table file, as the first one did.
    const std::string other = dir.Sub("backups2");
    std::thread backup([&] {
      absl::SleepFor(absl::Milliseconds(100));
      const absl::Time s = absl::Now();
      (void)table->Snapshot(other);
      during_seconds = Seconds(s);
      absl::SleepFor(absl::Milliseconds(100));
      stop = true;
    });
    during = WriteUntil(table.get(), writers, &stop, records);
    backup.join();
  }
  std::cout << absl::StrFormat(
      "5. writers' p99 (%d writers): %.2f ms without a backup, %.2f ms during one (%.2f s); "
      "ratio %.2fx\n",
      writers, P99(quiet), P99(during), during_seconds, P99(during) / P99(quiet));

  // 6. Sync writes while a WalShipper ships the logs every second (as a
  // store does) vs the archive alone.
  std::vector<double> shipped, unshipped;
  uint64_t shipped_bytes = 0;
  for (int rep = 0; rep < 3; ++rep) {
    const std::string a = dir.Sub(absl::StrCat("ship-on-", rep));
    const std::string b = dir.Sub(absl::StrCat("ship-off-", rep));
    fs::create_directories(a);
    fs::create_directories(b);
    std::ofstream(absl::StrCat(a, "/", storage::kGenerationFile)) << "bench";
    {
      storage::WalArchivingEnv archiving(leveldb::Env::Default(), a);
      storage::WalShipper shipper(leveldb::Env::Default(), Clock::Real(), a,
                                  dir.Sub(absl::StrCat("shipped-", rep)));
      shipper.Start(absl::Seconds(1));
      shipped.push_back(SyncPutRate(&archiving, a, writers, per_writer));
      shipped_bytes += shipper.Progress().shipped_bytes;
    }
    storage::WalArchivingEnv archiving(leveldb::Env::Default(), b);
    unshipped.push_back(SyncPutRate(&archiving, b, writers, per_writer));
  }
  std::sort(shipped.begin(), shipped.end());
  std::sort(unshipped.begin(), unshipped.end());
  std::cout << absl::StrFormat(
      "6. sync puts/s, %d writers, median of 3: logs shipped every 1 s %.0f (%.1f MiB shipped), "
      "not shipped %.0f; ratio %.2fx\n",
      writers, shipped[1], shipped_bytes / 1048576.0, unshipped[1], shipped[1] / unshipped[1]);

  CompactionStall(dir, writers, records);
  CommitTimeCost(dir, writers, per_writer);
  PointInTimeRestore(dir, records);
  RemoteUpload(dir, smoke ? 8 : absl::GetFlag(FLAGS_remote_mib));
  return restored.ok() && same ? 0 : 1;
}

}  // namespace
}  // namespace agentcom::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return agentcom::bench::Main();
}
