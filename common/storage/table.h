#ifndef AGENTCOM_COMMON_STORAGE_TABLE_H_
#define AGENTCOM_COMMON_STORAGE_TABLE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "agentcom/common/v1/backup.pb.h"
#include "agentcom/common/v1/table.pb.h"
#include "agentcom/topology/v1/topology.pb.h"
#include "common/clock/clock.h"

namespace leveldb {
class Env;
}

namespace agentcom::storage {

using TableState = ::agentcom::common::v1::TableState;
using TableStats = ::agentcom::common::v1::TableStats;
using BackupManifest = ::agentcom::common::v1::BackupManifest;

// A file maintenance leaves in a table directory after restoring it empty
// (REQUIREMENTS R4); a table opened with it present is in state DEGRADED.
inline constexpr char kDegradedMarkerFile[] = "AGENTCOM_DEGRADED";

// A file maintenance puts in a table directory it installs during a restore
// (REQUIREMENTS R3): a table opened with it present is in state RESTORING and
// serves no request of agents until FinishRestore has verified it. So no
// agent write can reach a restored table that later fails verification, and
// a restore redone after a crash never throws away acknowledged writes.
inline constexpr char kRestoringMarkerFile[] = "AGENTCOM_RESTORING";

// The table's generation: a random id written when the directory is first
// opened (a new table, or one a restore installed). Backups record it so that
// a restore replays only write-ahead logs of the same LevelDB history.
inline constexpr char kGenerationFile[] = "AGENTCOM_GENERATION";

// A file maintenance puts in a table directory it installs when the restore
// may have lost acknowledged writes (a damaged or missing log, no usable
// backup): at its next open the table raises its sequence floor above every
// number it ever issued (Table::NextSequence), so none is issued twice.
inline constexpr char kLossyRestoreMarkerFile[] = "AGENTCOM_LOSSY_RESTORE";

// How far ahead of the numbers issued the bound kept beside the table
// (<data_dir>/.<table>.sequence-bound) is moved: one fsync per this many.
inline constexpr uint64_t kSequenceReservation = 10000;

// Told when a table first turns corrupted. Implementations must not block
// for long: they are called on the request path that found the corruption.
class CorruptionListener {
 public:
  virtual ~CorruptionListener() = default;
  // `records`: what the table held when the corruption was found, when its
  // count was exact (nullopt, e.g., when found while opening).
  virtual void OnCorruption(const std::string& table, const std::string& reason,
                            std::optional<uint64_t> records) = 0;
};

// A set of puts and deletes applied atomically to one table.
class TableBatch {
 public:
  struct Op {
    std::string key;
    std::optional<std::string> value;  // nullopt: delete
  };
  void Put(absl::string_view key, absl::string_view value) {
    ops_.push_back({std::string(key), std::string(value)});
  }
  void Delete(absl::string_view key) { ops_.push_back({std::string(key), std::nullopt}); }
  const std::vector<Op>& ops() const { return ops_; }
  bool empty() const { return ops_.empty(); }

 private:
  std::vector<Op> ops_;
};

// Result of a full, checksum-verified traversal.
struct VerifyResult {
  uint64_t record_count = 0;
  // Hex SHA-256; see BackupManifest.content_hash.
  std::string content_hash;
};

// What a restored table must hold before it serves (Table::FinishRestore).
struct RestoreExpectation {
  // The installed backup's record count and content hash (empty: any). Not
  // known (nullopt, empty) when writes were replayed onto the backup: the
  // store's traversal is then the only read of the result.
  std::optional<uint64_t> record_count;
  std::string content_hash;
  // The records the table held when its store found it corrupted, when
  // known. A restored table holding another count has lost acknowledged
  // writes (or kept a write whose caller saw it fail): it is served, but
  // its sequence numbers continue above every one issued before, as after
  // any lossy restore (kLossyRestoreMarkerFile).
  std::optional<uint64_t> records_at_corruption;
};

// One table: a LevelDB directory holding sorted key/value records, with a
// state machine (DESIGN.md "Table states"), exact statistics and the
// maintenance operations of StoreAdmin.
//
// Thread-safe: every method may be called concurrently with any other.
// Reads and writes continue while Compact, Snapshot or Verify run; Reopen
// waits for in-flight calls and blocks new ones until it is done.
//
// Errors: a LevelDB Corruption status marks the table CORRUPTED (once,
// telling the CorruptionListener) and returns UNAVAILABLE naming the table;
// while CORRUPTED or RESTORING every call fails fast with UNAVAILABLE. A full
// disk is RESOURCE_EXHAUSTED and another I/O error UNAVAILABLE; neither
// changes the state.
class Table {
 public:
  virtual ~Table() = default;

  virtual const std::string& name() const = 0;
  virtual TableState state() const = 0;

  // The value stored under `key`, or nullopt when there is none.
  virtual absl::StatusOr<std::optional<std::string>> Get(absl::string_view key) = 0;
  virtual absl::Status Put(absl::string_view key, absl::string_view value) = 0;
  // Deleting a missing key is OK.
  virtual absl::Status Delete(absl::string_view key) = 0;
  // All of the batch or none of it. Later operations on a key win.
  virtual absl::Status Write(const TableBatch& batch) = 0;
  // Write without waiting: queues the batch for the table's next commit and
  // returns at once; `done` gets the write's result once it is durable (as
  // durable as Write's) or has failed: from the thread that committed it,
  // or before WriteAsync returns when the table refuses the write at once
  // (not serving, disk full). Batches queued one after another by a caller
  // commit in that order, before any later Write; the answers of different
  // commit groups may run concurrently, in any order. For servers whose
  // threads must not block on a disk sync. The default runs Write inline.
  using WriteDone = std::function<void(absl::Status)>;
  virtual void WriteAsync(TableBatch batch, WriteDone done) { done(Write(batch)); }

  // Calls `visit` for each record with start <= key < limit in key order
  // (an empty `limit` means no upper bound) until it returns false. A
  // consistent view: writes made during the scan are not seen.
  virtual absl::Status Scan(
      absl::string_view start, absl::string_view limit,
      const std::function<bool(absl::string_view key, absl::string_view value)>& visit) = 0;

  // Cheap: no I/O beyond listing the table's directory.
  virtual TableStats Stats() = 0;

  // Full-range compaction; blocks until done.
  virtual absl::Status Compact() = 0;

  // Full traversal of a consistent snapshot with every checksum verified.
  // Corruption is DATA_LOSS (and marks the table corrupted).
  virtual absl::StatusOr<VerifyResult> Verify() = 0;

  // Writes a point-in-time backup to <backup_root>/<table>/<backup_id>/
  // (see backup.h) and returns its manifest. Writes continue meanwhile.
  virtual absl::StatusOr<BackupManifest> Snapshot(const std::string& backup_root) = 0;

  // Closes and reopens the LevelDB directory, optionally running
  // leveldb::RepairDB first. A table that opens cleanly is OK again (or
  // DEGRADED, or RESTORING, if a marker file is present).
  virtual absl::Status Reopen(bool repair) = 0;

  // Ends the RESTORING state of a table that maintenance installed (see
  // kRestoringMarkerFile). Runs a full traversal as Verify does and, only if
  // it succeeds with what `expected` names, removes the marker durably and
  // starts serving (OK, or DEGRADED); the traversal's count becomes the
  // table's exact statistics. Returns what the traversal found. Blocks for
  // the traversal; agents' calls keep failing fast meanwhile.
  // FAILED_PRECONDITION when the table is not RESTORING; DATA_LOSS when the
  // traversal fails or finds other contents (the table stays RESTORING,
  // having served nothing); UNAVAILABLE when the marker cannot be removed.
  virtual absl::StatusOr<VerifyResult> FinishRestore(const RestoreExpectation& expected) = 0;

  // The number to issue after `last`, the newest one a counter kept in the
  // table holds (a mailbox's or channel's sequence): last + 1, and above
  // every number the table ever issued once a restore may have lost writes
  // (kLossyRestoreMarkerFile), so a number acknowledged before the restore
  // is never issued again. Before issuing beyond the bound kept beside the
  // table it moves the bound kSequenceReservation further (fsync);
  // UNAVAILABLE when that fails.
  virtual absl::StatusOr<uint64_t> NextSequence(uint64_t last) = 0;
};

// OK while `table` serves agents' calls (OK or DEGRADED); otherwise the
// UNAVAILABLE its calls fail with, naming it. Cheap: reads the state only.
inline absl::Status ServingStatus(const Table& table) {
  switch (table.state()) {
    case common::v1::TABLE_STATE_OK:
    case common::v1::TABLE_STATE_DEGRADED:
      return absl::OkStatus();
    case common::v1::TABLE_STATE_RESTORING:
      return absl::UnavailableError("table " + table.name() + " is being restored; retry later");
    case common::v1::TABLE_STATE_CORRUPTED:
      return absl::UnavailableError("table " + table.name() + " is corrupted; retry later");
    default:
      return absl::UnavailableError("table " + table.name() + " is not open; retry later");
  }
}

// Linux nice value of the threads that do a table's background work
// (LevelDB's compactions, backup copies, log shipping), so that they take
// idle CPU first and agents' requests keep their latency. 19, the lowest:
// at 10 a full compaction still took a tenth of a busy CPU from the agents
// (their p99 1.95-2.17x during it, 1.28-1.62x at 19), and loading 1.75 M
// writes was no slower at 19 (BENCHMARKS.md, session 14).
inline constexpr int kBackgroundNice = 19;

struct TableOptions {
  std::string name;
  // The table's LevelDB directory; created when missing.
  std::string dir;
  // Every field set (config::EffectiveStorage).
  ::agentcom::topology::v1::Storage storage;
  // Not owned; nullptr means leveldb::Env::Default(). Tests inject faults.
  leveldb::Env* env = nullptr;
  // Not owned; may be nullptr. Must outlive the table.
  CorruptionListener* listener = nullptr;
  // Where the table's write-ahead logs are shipped (ShippedWalRoot in
  // wal_shipper.h), every storage.wal_ship_interval_ms; empty: not shipped.
  std::string wal_ship_root;
  // Priority of LevelDB's compactions for this table (benchmarks compare).
  int background_nice = kBackgroundNice;
  // Not owned; nullptr means Clock::Real(). Stamps each committed batch
  // and each backup with the time.
  Clock* clock = nullptr;
  // Write each batch's commit time into it (kCommitTimeKey), for
  // point-in-time restores. Off only in benchmarks that measure its cost.
  bool record_commit_times = true;
};

// Opens (creating if needed) a table. Corruption found while opening does not
// fail the call: the table is returned in state CORRUPTED and the listener is
// told. A missing directory is created, unless the table's sequence bound or
// non-empty shipped logs show that it held data: then it is lost, and the
// table is CORRUPTED (so that it is restored, not served empty). Other
// errors (permissions, disk) fail it.
absl::StatusOr<std::unique_ptr<Table>> OpenTable(const TableOptions& options);

}  // namespace agentcom::storage

#endif  // AGENTCOM_COMMON_STORAGE_TABLE_H_
