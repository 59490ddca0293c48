#ifndef AGENTCOM_COMMON_STORAGE_FILE_BACKUP_H_
#define AGENTCOM_COMMON_STORAGE_FILE_BACKUP_H_

// Backup format 2: a copy of a table's LevelDB files as they were at one
// moment, restored by copying the files back and letting LevelDB's own
// recovery open them, as after a crash at that moment.
//
//   <backup_root>/<table>/pool/<generation>-<size>-<NNNNNN>.ldb
//       table files, immutable once LevelDB wrote them, copied once and
//       shared by every backup that needs them (RocksDB's shared files)
//   <backup_root>/<table>/<backup_id>/
//       MANIFEST-NNNNNN   LevelDB's MANIFEST up to its size at the moment
//       CURRENT           names it
//       NNNNNN.log        the write-ahead logs up to their size then
//       MANIFEST.json     agentcom.common.v1.BackupManifest, format 2
//
// Pool files are copies, never hard links: a hard link shares the disk
// blocks whose damage backups protect against. A pool name is unique for
// the table's history: file numbers never repeat within a generation (a
// restore starts a new generation).
//
// Taking one (the table does this, since it owns LevelDB and its Env):
// hold deletions (WalArchivingEnv), then, with writes paused for the
// moment, ListLiveFiles: the MANIFEST's size is read before the table files
// are listed, so every file the copied MANIFEST prefix names is listed (none
// can go: deletions are held), and the logs' sizes end exactly after the
// last acknowledged batch. Writes then resume and WriteFileBackup copies:
// new table files into the pool (SHA-256 while copying, then every block's
// CRC checked on the copy, so a damaged live file never enters the pool),
// the rest into the backup directory.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agentcom/common/v1/backup.pb.h"
#include "common/storage/backup.h"

namespace leveldb {
class Env;
}

namespace agentcom::storage {

inline constexpr uint32_t kFileBackupFormatVersion = 2;
inline constexpr char kPoolDir[] = "pool";

std::string PoolPath(const std::string& backup_root, const std::string& table);

// A table directory's LevelDB files at one moment.
struct LiveFiles {
  struct File {
    std::string name;
    uint64_t size = 0;
  };
  std::string current;  // CURRENT's content, e.g. "MANIFEST-000005\n"
  File manifest;
  std::vector<File> tables;  // NNNNNN.ldb / .sst
  std::vector<File> logs;    // NNNNNN.log
};

// Lists `dir` as described above, leaving out the table files `skip` says
// (those LevelDB is still writing: no MANIFEST names them yet). Call it with
// deletions held and writes paused. UNAVAILABLE when the directory cannot be
// read.
absl::StatusOr<LiveFiles> ListLiveFiles(
    leveldb::Env* env, const std::string& dir,
    const std::function<bool(const std::string& path)>& skip = nullptr);

// What WriteFileBackup copies and records.
struct FileBackupSource {
  std::string table;
  std::string dir;  // the table's directory
  LiveFiles files;
  std::string generation;
  uint64_t first_log_number = 0;
  // Exact, at the moment the files were listed.
  uint64_t record_count = 0;
  uint64_t logical_bytes = 0;
  absl::Time time;
};

// Copies the files into a new backup (built under .tmp-<id>, renamed into
// place, so a crash never leaves a partial backup under a backup id; a pool
// file enters the pool by rename once copied and checked). Deletions must
// still be held. DATA_LOSS when a live table file fails its block checks
// (nothing damaged enters the pool); UNAVAILABLE / RESOURCE_EXHAUSTED for
// I/O errors.
absl::StatusOr<common::v1::BackupManifest> WriteFileBackup(leveldb::Env* env,
                                                           const std::string& backup_root,
                                                           const FileBackupSource& source);

// Checks a format 2 backup as deep as `depth` says; kFull restores it into
// a scratch directory beside it (.tmp-verify-<id>), removes that again and
// returns the manifest with the content hash of what it restored.
absl::StatusOr<common::v1::BackupManifest> CheckFileBackup(
    leveldb::Env* env, const std::string& backup_dir, const common::v1::BackupManifest& manifest,
    BackupCheck depth);

// Builds a table directory at `table_dir` (must not exist) from the backup:
// copies every file (checking its SHA-256 as it copies), opens it with
// LevelDB's paranoid checks (replaying the copied logs) and writes the exact
// statistics record. With RestoreCheck::kRecords it also traverses the table
// (every block's CRC) and compares the record count (and the content hash,
// when the manifest has one) with the manifest, and fills in content_hash;
// kFiles leaves that to the caller (a restore's FinishRestore traverses the
// table the store opened anyway). Every file is fsynced before it returns.
// A pool file that is damaged or missing is taken from `alternate_dir` (the
// damaged table a restore replaces) when that has a copy with the same
// SHA-256. On error `table_dir` is removed.
absl::StatusOr<common::v1::BackupManifest> RestoreFileBackup(
    leveldb::Env* env, const std::string& backup_dir, common::v1::BackupManifest manifest,
    const std::string& table_dir, RestoreCheck check = RestoreCheck::kRecords,
    const std::string& alternate_dir = "");

// What a scrub of a table's pool found.
struct ScrubReport {
  uint64_t files = 0;  // pool files read
  uint64_t bytes = 0;
  // Pool files that were missing or did not match their checksum.
  std::vector<std::string> damaged;
  // Of those, the ones replaced by an identical copy from the live table.
  std::vector<std::string> repaired;
  // Backups that list a damaged file no intact copy of was found for.
  std::vector<std::string> unusable_backups;
};

// Re-reads every pool file a backup of `table` lists and checks its SHA-256
// (the scheduled scrub). A damaged or missing one is replaced when the live
// table's directory `live_dir` still has that file with the same checksum
// (table files never change, so LevelDB may still use it); the damaged copy
// is kept in <backup_root>/<table>/damaged/ for inspection, never deleted.
// Backups listing a file that could not be repaired are reported unusable:
// a restore skips them (their checksums fail), and the caller takes a new
// backup.
ScrubReport ScrubPool(leveldb::Env* env, const std::string& backup_root, const std::string& table,
                      const std::string& live_dir);

// Removes pool files of `table` that no backup lists, left alone for at
// least `min_age` (a backup being taken may have copied files it does not
// list yet). Nothing is removed while any backup's manifest is unreadable:
// it might list them. Returns the names removed.
std::vector<std::string> PrunePool(leveldb::Env* env, const std::string& backup_root,
                                   const std::string& table, absl::Duration min_age);

namespace internal {
// Copies the first `size` bytes of `from` to the new file `to`, fsyncs it
// (unless `sync` is false: the caller does later), and returns their
// SHA-256. DATA_LOSS when `from` is shorter.
absl::StatusOr<std::string> CopyFilePrefix(leveldb::Env* env, const std::string& from,
                                           const std::string& to, uint64_t size, bool sync = true);
// SHA-256 of a whole file; `size` receives its length.
absl::StatusOr<std::string> FileSha256(leveldb::Env* env, const std::string& path, uint64_t* size);
// Opens one LevelDB table file (block CRCs checked) and visits its
// entries in order. DATA_LOSS when it does not read back.
absl::Status ForEachTableEntry(
    leveldb::Env* env, const std::string& path, uint64_t size,
    const std::function<absl::Status(absl::string_view, absl::string_view)>& visit);
}  // namespace internal

}  // namespace agentcom::storage

#endif  // AGENTCOM_COMMON_STORAGE_FILE_BACKUP_H_
