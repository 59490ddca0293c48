#ifndef AGENTCOM_COMMON_STORAGE_WAL_ARCHIVE_H_
#define AGENTCOM_COMMON_STORAGE_WAL_ARCHIVE_H_

#include <leveldb/env.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/storage/table.h"

namespace agentcom::storage {

// The directory, inside a table's directory, where its retired write-ahead
// logs are kept. LevelDB ignores it (the name is not a LevelDB file name).
inline constexpr char kWalArchiveDir[] = "wal-archive";

// A leveldb::Env for one table that keeps every write-ahead log LevelDB
// retires: where LevelDB would delete <dir>/NNNNNN.log once its memtable is
// in a table file, the log is moved to <dir>/wal-archive/ (one rename on the
// same file system) and survives. Together with a backup that records the
// first log it needs, the archive lets a restore replay every acknowledged
// write made after the backup (see wal.h). While a file-level backup copies
// the table's files, deletions are held (RocksDB's DisableFileDeletions):
// LevelDB is told the file is gone, and it really goes (or is archived) when
// the last hold is released; after a crash in between, LevelDB removes such
// obsolete files itself at the next open. LevelDB's background work
// (memtable flushes and compactions, scheduled through Schedule) runs at
// `background_nice` (on the process's one background thread, which keeps it
// for jobs scheduled without this Env). Every other call goes to `base`.
// Thread-safe.
class WalArchivingEnv final : public leveldb::EnvWrapper {
 public:
  WalArchivingEnv(leveldb::Env* base, std::string table_dir, int background_nice = kBackgroundNice);

  void Schedule(void (*function)(void* arg), void* arg) override;

  leveldb::Status RemoveFile(const std::string& fname) override;
  // Tracks the table files LevelDB is writing (a compaction's or memtable
  // flush's output): such a file is incomplete, and no MANIFEST names it
  // before LevelDB has closed it, so a backup leaves it out.
  leveldb::Status NewWritableFile(const std::string& fname,
                                  leveldb::WritableFile** result) override;
  bool IsBeingWritten(const std::string& fname);

  // Holds (counted) and releases deletions; releasing the last hold carries
  // out the deletions held meanwhile.
  void HoldDeletions();
  void ReleaseDeletions();

  const std::string& archive_dir() const { return archive_dir_; }

 private:
  leveldb::Status Remove(const std::string& fname);
  class TrackedFile;
  void DoneWriting(const std::string& fname);

  const std::string table_dir_;
  const std::string archive_dir_;
  const int background_nice_;
  absl::Mutex mu_;
  int holds_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::string> held_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> writing_ ABSL_GUARDED_BY(mu_);
};

// Holds `env`'s deletions for its lifetime.
class DeletionHold {
 public:
  explicit DeletionHold(WalArchivingEnv* env) : env_(env) { env_->HoldDeletions(); }
  ~DeletionHold() { env_->ReleaseDeletions(); }
  DeletionHold(const DeletionHold&) = delete;
  DeletionHold& operator=(const DeletionHold&) = delete;

 private:
  WalArchivingEnv* env_;
};

// Sets the calling thread's Linux nice value (best effort), as the threads
// doing a table's background work do (kBackgroundNice).
void SetThisThreadNice(int nice);

// A log of a table, live or archived.
struct WalLog {
  uint64_t number = 0;
  std::string path;
};

// The logs of the table directory `dir` numbered `first` or higher, from its
// archive and its live directory, in number order (a number present in both
// is taken from the live directory, which LevelDB was still writing).
std::vector<WalLog> ListWalLogs(leveldb::Env* env, const std::string& dir, uint64_t first);

}  // namespace agentcom::storage

#endif  // AGENTCOM_COMMON_STORAGE_WAL_ARCHIVE_H_
