#ifndef AGENTCOM_COMMON_STORAGE_LEVELDB_TABLE_H_
#define AGENTCOM_COMMON_STORAGE_LEVELDB_TABLE_H_

#include <leveldb/cache.h>
#include <leveldb/db.h>
#include <leveldb/filter_policy.h>

#include <array>
#include <atomic>
#include <deque>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/storage/table.h"
#include "common/storage/wal_archive.h"
#include "common/storage/wal_shipper.h"

namespace agentcom::storage {

// Table backed by one LevelDB directory. See Table for the contract.
//
// Counting: records and logical bytes are kept in memory, updated by every
// write after reading the old value under a per-key stripe lock (so writes
// to different keys still reach LevelDB concurrently and share its group
// commit). They are checkpointed in the table at an orderly close; at open a
// checkpoint from a crashed run is ignored and the numbers are recounted.
class LevelDbTable final : public Table {
 public:
  explicit LevelDbTable(const TableOptions& options);
  ~LevelDbTable() override;

  // Opens the directory. Corruption leaves the table CORRUPTED and returns
  // OK; other errors are returned.
  absl::Status Open();

  const std::string& name() const override { return options_.name; }
  TableState state() const override;

  absl::StatusOr<std::optional<std::string>> Get(absl::string_view key) override;
  absl::Status Put(absl::string_view key, absl::string_view value) override;
  absl::Status Delete(absl::string_view key) override;
  absl::Status Write(const TableBatch& batch) override;
  void WriteAsync(TableBatch batch, WriteDone done) override;
  absl::Status Scan(
      absl::string_view start, absl::string_view limit,
      const std::function<bool(absl::string_view, absl::string_view)>& visit) override;
  TableStats Stats() override;
  absl::Status Compact() override;
  absl::StatusOr<VerifyResult> Verify() override;
  absl::StatusOr<BackupManifest> Snapshot(const std::string& backup_root) override;
  absl::Status Reopen(bool repair) override;
  absl::StatusOr<VerifyResult> FinishRestore(const RestoreExpectation& expected) override;
  absl::StatusOr<uint64_t> NextSequence(uint64_t last) override;

 private:
  // A write waiting in the commit queue: a Write's (its caller waits for
  // `done`) or a WriteAsync's (owned by the queue; `on_done` is called).
  struct PendingWrite {
    const TableBatch* batch = nullptr;
    size_t bytes = 0;
    // The table's open_count_ when the write was queued: a write queued
    // before the table closed is never applied to what it reopened.
    uint64_t opened = 0;
    bool done = false;
    absl::Status status;
    // WriteAsync only.
    TableBatch owned;
    WriteDone on_done;
  };
  // Group commit above LevelDB's: the writer at the head of the queue (or,
  // when the head is an asynchronous write, the committer thread or any
  // waiting writer) takes the batches queued behind it (up to
  // kMaxGroupBytes), counts them in order, writes them as one LevelDB batch
  // (one fsync) and hands each writer the result. One group is in flight at
  // a time, as in LevelDB, so the counts are exact without any lock held
  // across the fsync: the writers of the next group queue meanwhile instead
  // of waiting on locks.
  static constexpr size_t kMaxGroupBytes = size_t{1} << 20;
  // Takes the group at the head of the queue and marks it committing.
  std::vector<PendingWrite*> TakeGroupLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(commit_mu_);
  // Commits `group` (see CommitGroup) and hands each write its result:
  // wakes the waiting Writes and calls the asynchronous writes' callbacks.
  // Returns the asynchronous writes, whose callbacks the caller runs once it
  // holds no lock.
  std::vector<std::unique_ptr<PendingWrite>> CommitAndFinish(std::vector<PendingWrite*> group)
      ABSL_SHARED_LOCKS_REQUIRED(db_mu_);
  // Sets each write's status: the result of WriteGroup for the writes queued
  // since the table last opened, UNAVAILABLE for the others.
  void CommitGroup(const std::vector<PendingWrite*>& group) ABSL_SHARED_LOCKS_REQUIRED(db_mu_);
  // Writes `group` as one LevelDB batch, updating the counts.
  leveldb::Status WriteGroup(const std::vector<PendingWrite*>& group)
      ABSL_SHARED_LOCKS_REQUIRED(db_mu_);
  // No group is being written and an asynchronous write heads the queue.
  bool AsyncAtHeadLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(commit_mu_);
  // The committer thread: commits groups that start with an asynchronous write.
  void CommitLoop();
  // Held by a call that closes db_, from before it asks for db_mu_ until it
  // has it no more: meanwhile the committer thread starts no group, so an
  // asynchronous write still queued when the close was asked for meets the
  // closed table and is refused, instead of racing the close for db_mu_
  // (whose readers may overtake a waiting writer).
  class CloseAnnouncement {
   public:
    explicit CloseAnnouncement(LevelDbTable* table);
    ~CloseAnnouncement();
    CloseAnnouncement(const CloseAnnouncement&) = delete;
    CloseAnnouncement& operator=(const CloseAnnouncement&) = delete;

   private:
    LevelDbTable* const table_;
  };

  // `after_repair`: leveldb::RepairDB moved the logs into lost/, so they
  // are not compared with their shipped copies.
  absl::Status OpenLocked(bool after_repair = false) ABSL_EXCLUSIVE_LOCKS_REQUIRED(db_mu_);
  void CloseLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(db_mu_);
  absl::Status LoadOrRecountStats() ABSL_EXCLUSIVE_LOCKS_REQUIRED(db_mu_);
  // Reopens the table after a failed write once the disk has room again;
  // RESOURCE_EXHAUSTED while it has not.
  absl::Status ReopenAfterWriteError();
  // NotFound that means "no such key" (and not a missing table file).
  static bool IsAbsentKey(const leveldb::Status& s);
  // A missing or truncated table file: corruption, although LevelDB says
  // NotFound or IOError.
  static bool IsDamagedFile(const leveldb::Status& s);
  // What shows that the table held data although its directory is missing
  // (its sequence bound, shipped logs that are not empty), or "".
  std::string EvidenceOfData() const;
  // The first LevelDB file found in a directory that has no CURRENT, or "".
  std::string FileWithoutCurrent() const;
  // OK when requests may proceed; UNAVAILABLE naming the state otherwise.
  absl::Status CheckServing() const ABSL_SHARED_LOCKS_REQUIRED(db_mu_);
  // UNAVAILABLE at once, before db_mu_, when the table is corrupted or being
  // restored: a restore's verification holds db_mu_ for a whole traversal,
  // and agents' calls (some on gRPC's callback threads) must not queue
  // behind it. CheckServing, under db_mu_, still decides.
  absl::Status RefuseEarly() const;
  // UNAVAILABLE naming the state when it is CORRUPTED or RESTORING; OK
  // otherwise.
  absl::Status NotServingLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(state_mu_);
  // As CheckServing, but a RESTORING table may be read (by Verify and
  // FinishRestore, which agents cannot call).
  absl::Status CheckReadable() const ABSL_SHARED_LOCKS_REQUIRED(db_mu_);
  // The traversal behind Verify and FinishRestore; `logical_bytes` (when
  // not null) gets the bytes of the records' keys and values.
  absl::StatusOr<VerifyResult> VerifyLocked(uint64_t* logical_bytes = nullptr)
      ABSL_SHARED_LOCKS_REQUIRED(db_mu_);
  // OK, DEGRADED or RESTORING as the directory's marker files say.
  void SetStateFromMarkers();
  // The table's generation (kGenerationFile), created when missing.
  absl::StatusOr<std::string> EnsureGeneration();
  // The number of the oldest write-ahead log in the directory (0: none).
  uint64_t OldestLogNumber() const;
  // Maps a LevelDB status to the table's error, marking corruption.
  absl::Status Classify(const leveldb::Status& s, absl::string_view op);
  void MarkCorrupted(const std::string& reason);
  // Loads the last commit time, the sequence floor and bound; after a lossy restore raises the
  // floor to the bound (kept in the table) and removes the marker.
  absl::Status LoadSequenceFloor() ABSL_EXCLUSIVE_LOCKS_REQUIRED(db_mu_);
  // Writes were lost: raises the sequence floor to the bound (above every
  // number issued) and stores it in the table, durably.
  absl::Status RaiseSequenceFloor() ABSL_EXCLUSIVE_LOCKS_REQUIRED(db_mu_);
  void FlushLoop();

  const TableOptions options_;
  Clock* const clock_;
  // Every file operation of the table goes through it; it archives the
  // write-ahead logs LevelDB retires (wal_archive.h).
  const std::unique_ptr<WalArchivingEnv> wal_env_;
  leveldb::Env* const env_;
  // Ships the logs to options_.wal_ship_root; nullptr when shipping is off.
  // Stopped before the Env goes.
  std::unique_ptr<WalShipper> shipper_;
  std::unique_ptr<leveldb::Cache> cache_;
  std::unique_ptr<const leveldb::FilterPolicy> filter_;

  // Shared by every call using db_; exclusive while reopening.
  mutable absl::Mutex db_mu_;
  std::unique_ptr<leveldb::DB> db_ ABSL_GUARDED_BY(db_mu_);

  mutable absl::Mutex state_mu_;
  TableState state_ ABSL_GUARDED_BY(state_mu_);
  std::string state_reason_ ABSL_GUARDED_BY(state_mu_);

  absl::Mutex commit_mu_;
  std::deque<PendingWrite*> commit_queue_ ABSL_GUARDED_BY(commit_mu_);
  // A group is being written.
  bool committing_ ABSL_GUARDED_BY(commit_mu_) = false;
  bool committer_stopping_ ABSL_GUARDED_BY(commit_mu_) = false;
  // Calls waiting to close db_ or closing it (CloseAnnouncement).
  int closes_announced_ ABSL_GUARDED_BY(commit_mu_) = 0;
  // Started by the first WriteAsync.
  std::thread committer_ ABSL_GUARDED_BY(commit_mu_);
  // Counts closes of db_ (see PendingWrite::opened).
  std::atomic<uint64_t> open_count_{0};
  // Unix microseconds of the last commit time written (kCommitTimeKey):
  // commit times never decrease, even when the clock steps back. Written
  // by the one committer at a time.
  std::atomic<int64_t> last_commit_micros_{0};
  std::atomic<int64_t> records_{0};
  // records_ is exact (the table opened and counted).
  std::atomic<bool> counted_{false};
  std::atomic<int64_t> logical_bytes_{0};

  // DURABILITY_BUFFERED: the flusher fsyncs the log when writes are pending.
  std::atomic<bool> unsynced_{false};
  // Set when a write or sync failed with an I/O error (disk full): LevelDB
  // keeps such errors sticky and its log may end in a partial record, so the
  // table accepts no more writes until it has been reopened on a fresh log.
  std::atomic<bool> needs_reopen_{false};
  // NextSequence: never below floor; bound_ is persisted in
  // sequence_bound_path_ before a number above it is issued.
  const std::string sequence_bound_path_;
  absl::Mutex sequence_mu_;
  uint64_t sequence_floor_ ABSL_GUARDED_BY(sequence_mu_) = 0;
  uint64_t sequence_bound_ ABSL_GUARDED_BY(sequence_mu_) = 0;
  // One Snapshot at a time (they share the backup pool's temporary names).
  absl::Mutex snapshot_mu_;
  absl::Time last_reopen_attempt_ ABSL_GUARDED_BY(db_mu_) = absl::InfinitePast();
  absl::Mutex flush_mu_;
  bool stopping_ ABSL_GUARDED_BY(flush_mu_) = false;
  std::thread flusher_;
};

}  // namespace agentcom::storage

#endif  // AGENTCOM_COMMON_STORAGE_LEVELDB_TABLE_H_
