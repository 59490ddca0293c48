#ifndef AGENTCOM_COMMON_STORAGE_BACKUP_H_
#define AGENTCOM_COMMON_STORAGE_BACKUP_H_

// The backup format. One backup of one table is a directory
//   <backup_root>/<table>/<backup_id>/
//     data-000001.ldb ...   the records of one LevelDB snapshot in key order,
//                           written with leveldb::TableBuilder (snappy
//                           blocks, CRC32C per block), at most ~64 MiB each
//     MANIFEST.json         agentcom.common.v1.BackupManifest
// It is built under <backup_root>/<table>/.tmp-<backup_id>/, fsynced, and
// renamed into place, so a crash never leaves a partial backup under a
// backup id. Backups are read with leveldb::Table::Open, which needs no
// write access: verifying one never modifies it.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "agentcom/common/v1/backup.pb.h"

namespace leveldb {
class Env;
class WritableFile;
class TableBuilder;
struct Options;
}  // namespace leveldb

namespace agentcom::storage {
namespace internal {
class ContentHasher;
}

inline constexpr char kManifestFile[] = "MANIFEST.json";
inline constexpr uint32_t kBackupFormatVersion = 1;
inline constexpr char kTempPrefix[] = ".tmp-";

// "20261125T140816.123456Z": UTC, sorts chronologically, no ':'.
std::string BackupIdFor(absl::Time time);
bool IsBackupId(absl::string_view name);
// The time a backup id names; nullopt when `id` is not a backup id.
std::optional<absl::Time> BackupIdTime(absl::string_view id);

// When the backup's files were listed (its manifest's created_at, to the
// nanosecond): it holds every batch committed before, none after.
// nullopt when the manifest's time does not parse.
std::optional<absl::Time> BackupTime(const common::v1::BackupManifest& manifest);

std::string BackupPath(const std::string& backup_root, absl::string_view table,
                       absl::string_view backup_id);

// Backup ids of `table`, oldest first; temporary directories are ignored.
// A missing table directory is an empty list.
absl::StatusOr<std::vector<std::string>> ListBackups(const std::string& backup_root,
                                                     absl::string_view table);

// How deep a check of a backup goes.
enum class BackupCheck {
  kListing,    // the manifest reads; every file exists with its size
  kWritten,    // ... and the files this backup copied match their SHA-256
               // (format 2; format 1: as kChecksums)
  kChecksums,  // ... and every file matches its SHA-256
  kFull,       // ... and every record reads back: count and content hash
               // (format 2: a verification open in a scratch directory)
};

// What RestoreBackup reads back before it returns.
enum class RestoreCheck {
  kRecords,  // every record: count and content hash against the manifest
  kFiles,    // format 2: file checksums; the table opens (format 1: kRecords)
};

// A backup directory being built: .tmp-<id> until committed.
struct PendingBackup {
  std::string id;
  std::string created_at;
  std::string temp_dir;
  std::string final_dir;
};
// Picks an id after `now` that no backup of the table has and creates the
// temporary directory.
absl::StatusOr<PendingBackup> StartBackup(leveldb::Env* env, const std::string& backup_root,
                                          const std::string& table, absl::Time now);
// Fills in the manifest's table, id and time, writes it, fsyncs the
// directory and renames it into place.
absl::Status CommitBackup(leveldb::Env* env, const PendingBackup& pending, const std::string& table,
                          common::v1::BackupManifest* manifest);

// Reads and parses the manifest only (no verification).
absl::StatusOr<common::v1::BackupManifest> ReadManifest(const std::string& backup_dir);

// Read-only verification of the backup in `backup_dir` (either format): the
// manifest parses and names this directory; exactly the listed files exist
// with the listed sizes (and SHA-256); with kFull, every block checksum
// holds, keys ascend and record count and content hash equal the
// manifest's. Returns the manifest, or DATA_LOSS / NOT_FOUND saying what
// failed.
absl::StatusOr<common::v1::BackupManifest> VerifyBackup(const std::string& backup_dir,
                                                        leveldb::Env* env = nullptr,
                                                        BackupCheck depth = BackupCheck::kFull);

// Builds a fresh table directory at `table_dir` (which must not exist) from
// the backup (either format), verifying checksums, record count and content
// hash as it reads (see RestoreFileBackup for `check` and `alternate_dir`).
// On any error `table_dir` is removed again. Returns the manifest, with the
// content hash of what was restored when it was computed.
absl::StatusOr<common::v1::BackupManifest> RestoreBackup(
    const std::string& backup_dir, const std::string& table_dir, leveldb::Env* env = nullptr,
    RestoreCheck check = RestoreCheck::kRecords, const std::string& alternate_dir = "");

// Writes one backup. Used by Table::Snapshot with the records of a LevelDB
// snapshot. Not thread-safe. Destroying it before Commit removes the
// temporary directory.
class BackupWriter {
 public:
  static absl::StatusOr<std::unique_ptr<BackupWriter>> Create(leveldb::Env* env,
                                                              const std::string& backup_root,
                                                              const std::string& table,
                                                              absl::Time now);
  ~BackupWriter();

  // Keys must ascend.
  absl::Status Add(absl::string_view key, absl::string_view value);
  // Where the writes after this backup's snapshot are (see
  // BackupManifest.generation and first_log_number).
  void SetWalStart(std::string generation, uint64_t first_log_number) {
    manifest_.set_generation(std::move(generation));
    manifest_.set_first_log_number(first_log_number);
  }
  // Finishes the files, writes the manifest, fsyncs and renames into place.
  absl::StatusOr<common::v1::BackupManifest> Commit();

 private:
  class HashingFile;
  BackupWriter(leveldb::Env* env, std::string table, PendingBackup pending);
  absl::Status StartFile();
  absl::Status FinishFile();

  leveldb::Env* env_;
  std::string table_;
  PendingBackup pending_;
  std::unique_ptr<leveldb::Options> options_;
  std::unique_ptr<HashingFile> file_;
  std::unique_ptr<leveldb::TableBuilder> builder_;
  std::string file_name_;
  common::v1::BackupManifest manifest_;
  std::unique_ptr<internal::ContentHasher> hasher_;
  bool committed_ = false;
};

}  // namespace agentcom::storage

#endif  // AGENTCOM_COMMON_STORAGE_BACKUP_H_
