#ifndef AGENTCOM_COMMON_STORAGE_WAL_REPLAY_H_
#define AGENTCOM_COMMON_STORAGE_WAL_REPLAY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/storage/table.h"
#include "common/storage/wal.h"
#include "common/storage/wal_archive.h"

namespace leveldb {
class Env;
}

namespace agentcom::storage {

// What a replay applied, and what it could not.
struct ReplayReport {
  uint64_t logs = 0;
  uint64_t batches = 0;
  uint64_t operations = 0;
  // Sequence numbers of the first and last operation applied (0: none).
  uint64_t first_sequence = 0;
  uint64_t last_sequence = 0;
  // Operations known to be missing: sequence numbers skipped between two
  // batches that were read (a damaged or missing log in between).
  uint64_t lost_operations = 0;
  // Each damaged log, gap and torn tail, in words an operator can act on.
  std::vector<std::string> problems;
  // Commit time of the last batch applied (BatchCommitTime; InfinitePast
  // when none applied had one).
  absl::Time last_time = absl::InfinitePast();
  // With ReplayOptions::until: the batches written by the table's users
  // read after the point restored, left out on purpose (not lost: they are
  // still in the logs).
  uint64_t left_out_batches = 0;
  uint64_t left_out_operations = 0;
  // With ReplayOptions::read_back: what the directory holds after the
  // replay (a traversal with every checksum verified), as Table::Verify
  // would report it.
  std::optional<VerifyResult> verified;
};

struct ReplayOptions {
  // Point-in-time: stop before the first batch committed after this time
  // (applying nothing after it, so the table ends exactly as it was after
  // the last batch committed at or before it). A batch without a commit
  // time (the table's bookkeeping) goes with the batch before it.
  std::optional<absl::Time> until;
  // Read every record back once replayed (ReplayReport::verified) and store
  // exact statistics. Without it the statistics record says "not counted":
  // the table's FinishRestore traversal counts them (a restore's only read
  // of the result).
  bool read_back = true;
};

// When the batch was committed: the time the table wrote into it
// (internal::kCommitTimeKey), or nullopt for a batch without one (written
// by the table's bookkeeping, or before commit times were recorded).
std::optional<absl::Time> BatchCommitTime(const WalBatch& batch);

// Replays the write-ahead logs `logs` (in order) onto the closed LevelDB
// directory `dir`, which holds a restored backup: every batch is applied as
// it was written, so the directory ends as the table was after its last
// intact batch. Batches the backup already holds are harmless to apply
// again (a suffix of the history re-applied in order leaves every key as its
// last write left it). A damaged log is read up to its last intact record;
// a gap in the sequence numbers is counted in lost_operations. Then (with
// ReplayOptions::read_back) every record is read back
// (ReplayReport::verified) and the table's statistics record is set to what
// was read. Errors: DATA_LOSS when the result does not read back;
// UNAVAILABLE when the directory cannot be opened or written (the report is
// then meaningless); damage in the logs is not an error.
absl::StatusOr<ReplayReport> ReplayWalLogs(leveldb::Env* env, const std::string& dir,
                                           const std::vector<WalLog>& logs,
                                           const ReplayOptions& options = {});

}  // namespace agentcom::storage

#endif  // AGENTCOM_COMMON_STORAGE_WAL_REPLAY_H_
