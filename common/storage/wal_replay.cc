#include "common/storage/wal_replay.h"

#include <leveldb/db.h>
#include <leveldb/env.h>
#include <leveldb/write_batch.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "common/storage/format.h"
#include "common/storage/keys.h"
#include "common/storage/wal.h"

namespace agentcom::storage {
namespace {

constexpr size_t kReplayMemtableBytes = size_t{16} << 20;
constexpr size_t kReplayGroupBytes = size_t{1} << 20;

}  // namespace

std::optional<absl::Time> BatchCommitTime(const WalBatch& batch) {
  for (const WalBatch::Op& op : batch.ops) {
    if (op.key == internal::kCommitTimeKey && op.value && op.value->size() >= 8) {
      return absl::FromUnixMicros(static_cast<int64_t>(DecodeU64(*op.value)));
    }
  }
  return std::nullopt;
}

absl::StatusOr<ReplayReport> ReplayWalLogs(leveldb::Env* env, const std::string& dir,
                                           const std::vector<WalLog>& logs,
                                           const ReplayOptions& options) {
  leveldb::Options db_options;
  db_options.env = env;
  db_options.paranoid_checks = true;
  db_options.compression = leveldb::kNoCompression;
  // Fewer, larger level-0 files: with LevelDB's 4 MiB memtable a long
  // replay piles them up and LevelDB slows each write by 1 ms until they
  // are compacted. Larger than 16 MiB only moved the cost into the next
  // open, which replays the last memtable's log (agentcom_backup_bench
  // --replay_only).
  db_options.write_buffer_size = kReplayMemtableBytes;
  leveldb::DB* raw = nullptr;
  if (leveldb::Status s = leveldb::DB::Open(db_options, dir, &raw); !s.ok()) {
    return absl::UnavailableError(
        absl::StrCat("cannot open ", dir, " to replay logs: ", s.ToString()));
  }
  std::unique_ptr<leveldb::DB> db(raw);
  ReplayReport report;
  // Batches are applied in groups of about kReplayGroupBytes: one write per
  // batch costs a writer hand-off and a log record each.
  leveldb::WriteBatch group;
  const size_t empty_group = group.ApproximateSize();  // its header alone
  auto apply = [&]() -> absl::Status {
    if (group.ApproximateSize() == empty_group) return absl::OkStatus();
    leveldb::Status s = db->Write(leveldb::WriteOptions(), &group);
    group.Clear();
    if (!s.ok())
      return absl::UnavailableError(absl::StrCat("cannot replay into ", dir, ": ", s.ToString()));
    return absl::OkStatus();
  };
  uint64_t next = 0;  // the sequence number the next batch should start at
  uint64_t previous_log = 0;
  bool past_target = false;
  for (const WalLog& log : logs) {
    // Damage in a log that starts after the point restored costs nothing.
    const bool wholly_left_out = past_target;
    absl::StatusOr<WalFile> file = ReadWalFile(env, log.path);
    if (!file.ok()) {
      if (wholly_left_out) continue;
      report.problems.push_back(
          absl::StrCat("log ", log.number, " unreadable: ", file.status().message()));
      continue;
    }
    ++report.logs;
    for (const WalBatch& batch : file->batches) {
      const uint64_t end = batch.sequence + batch.ops.size();
      if (next != 0 && end <= next) continue;  // already applied (a duplicate copy)
      const std::optional<absl::Time> committed = BatchCommitTime(batch);
      if (options.until.has_value() && committed.has_value() && *committed > *options.until) {
        past_target = true;
      }
      if (past_target) {
        // Agents' batches; the table's own bookkeeping (no time) is not
        // a write anyone made.
        if (committed.has_value()) {
          ++report.left_out_batches;
          report.left_out_operations += batch.ops.size();
        }
        next = end;
        continue;
      }
      if (next != 0 && batch.sequence > next) {
        report.lost_operations += batch.sequence - next;
        report.problems.push_back(absl::StrCat("operations ", next, "..", batch.sequence - 1,
                                               " are missing between log ", previous_log,
                                               " and log ", log.number));
      }
      for (const WalBatch::Op& op : batch.ops) {
        if (op.value) {
          group.Put(op.key, *op.value);
        } else {
          group.Delete(op.key);
        }
      }
      if (group.ApproximateSize() >= kReplayGroupBytes) {
        if (absl::Status s = apply(); !s.ok()) return s;
      }
      if (committed.has_value()) report.last_time = *committed;
      if (report.first_sequence == 0) report.first_sequence = batch.sequence;
      report.last_sequence = end - 1;
      ++report.batches;
      report.operations += batch.ops.size();
      next = end;
    }
    if (!file->damage.empty() && !wholly_left_out) {
      report.problems.push_back(
          absl::StrCat("log ", log.number, " is damaged at offset ", file->damage_offset, " (",
                       file->damage, "; ", file->damaged_regions,
                       " damaged region(s) skipped, reading resumed at the next "
                       "block): the batches there are lost"));
    }
    previous_log = log.number;
  }
  if (absl::Status s = apply(); !s.ok()) return s;
  // The statistics record the logs brought describes the damaged table.
  // The one written here is exact (read back, every checksum verified: the
  // restore's expectation), so the store's next open need not recount; or
  // it says "not counted", for the FinishRestore traversal to count.
  internal::StoredStats stats;
  if (options.read_back) {
    internal::ContentHasher hasher;
    if (leveldb::Status s = internal::HashRecords(db.get(), &hasher); !s.ok()) {
      return absl::DataLossError(absl::StrCat("the table with the replayed writes in ", dir,
                                              " does not verify: ", s.ToString()));
    }
    stats = {hasher.count(), hasher.logical_bytes(), true};
    report.verified = VerifyResult{hasher.count(), hasher.HexDigest()};
  }
  leveldb::WriteOptions sync;
  sync.sync = true;
  if (leveldb::Status s =
          db->Put(sync, leveldb::Slice(internal::kStatsKey.data(), internal::kStatsKey.size()),
                  internal::EncodeStats(stats));
      !s.ok()) {
    return absl::UnavailableError(absl::StrCat("cannot replay into ", dir, ": ", s.ToString()));
  }
  return report;
}

}  // namespace agentcom::storage
