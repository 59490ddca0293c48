#include "common/storage/wal_replay.h"

#include <leveldb/db.h>
#include <leveldb/env.h>
#include <leveldb/write_batch.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "common/storage/format.h"
#include "common/storage/wal.h"

namespace agentcom::storage {

absl::StatusOr<ReplayReport> ReplayWalLogs(leveldb::Env* env, const std::string& dir,
                                           const std::vector<WalLog>& logs) {
  leveldb::Options options;
  options.env = env;
  options.paranoid_checks = true;
  options.compression = leveldb::kNoCompression;
  leveldb::DB* raw = nullptr;
  if (leveldb::Status s = leveldb::DB::Open(options, dir, &raw); !s.ok()) {
    return absl::UnavailableError(
        absl::StrCat("cannot open ", dir, " to replay logs: ", s.ToString()));
  }
  std::unique_ptr<leveldb::DB> db(raw);
  ReplayReport report;
  uint64_t next = 0;  // the sequence number the next batch should start at
  uint64_t previous_log = 0;
  for (const WalLog& log : logs) {
    absl::StatusOr<WalFile> file = ReadWalFile(env, log.path);
    if (!file.ok()) {
      report.problems.push_back(
          absl::StrCat("log ", log.number, " unreadable: ", file.status().message()));
      continue;
    }
    ++report.logs;
    for (const WalBatch& batch : file->batches) {
      const uint64_t end = batch.sequence + batch.ops.size();
      if (next != 0 && end <= next) continue;  // already applied (a duplicate copy)
      if (next != 0 && batch.sequence > next) {
        report.lost_operations += batch.sequence - next;
        report.problems.push_back(absl::StrCat("operations ", next, "..", batch.sequence - 1,
                                               " are missing between log ", previous_log,
                                               " and log ", log.number));
      }
      leveldb::WriteBatch wb;
      for (const WalBatch::Op& op : batch.ops) {
        if (op.value) {
          wb.Put(op.key, *op.value);
        } else {
          wb.Delete(op.key);
        }
      }
      if (leveldb::Status s = db->Write(leveldb::WriteOptions(), &wb); !s.ok()) {
        return absl::UnavailableError(absl::StrCat("cannot replay into ", dir, ": ", s.ToString()));
      }
      if (report.first_sequence == 0) report.first_sequence = batch.sequence;
      report.last_sequence = end - 1;
      ++report.batches;
      report.operations += batch.ops.size();
      next = end;
    }
    if (!file->damage.empty()) {
      report.problems.push_back(
          absl::StrCat("log ", log.number, " is damaged at offset ", file->damage_offset, " (",
                       file->damage, "; ", file->damaged_regions,
                       " damaged region(s) skipped, reading resumed at the next "
                       "block): the batches there are lost"));
    }
    previous_log = log.number;
  }
  // The statistics record in the logs describes the damaged table, not this
  // one: the store recounts at its next open.
  leveldb::WriteOptions sync;
  sync.sync = true;
  if (leveldb::Status s =
          db->Delete(sync, leveldb::Slice(internal::kStatsKey.data(), internal::kStatsKey.size()));
      !s.ok()) {
    return absl::UnavailableError(absl::StrCat("cannot replay into ", dir, ": ", s.ToString()));
  }
  return report;
}

}  // namespace agentcom::storage
