#ifndef AGENTCOM_COMMON_FILES_FILES_H_
#define AGENTCOM_COMMON_FILES_FILES_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace leveldb {
class Env;
class Status;
}  // namespace leveldb

namespace agentcom::files {

// Small file-system steps that recovery depends on, each through a
// leveldb::Env so that tests can inject I/O errors. Errors name the path:
// RESOURCE_EXHAUSTED when the disk is full, UNAVAILABLE for other I/O errors.
// Thread-compatible (as the Env).

// The error for a failed leveldb::Env call on `what`: DATA_LOSS for
// corruption, NOT_FOUND, RESOURCE_EXHAUSTED for a full disk, otherwise
// UNAVAILABLE.
absl::Status FromLevelDb(const leveldb::Status& s, absl::string_view what);

// fsync of a directory, so that a file created, renamed or removed in it
// survives a power loss. Goes to the OS directly: leveldb::Env has no such
// call.
absl::Status SyncDirectory(const std::string& dir);
// fsync of a file written earlier (e.g. copies whose fsync was deferred so
// the disk writes them back while other work runs).
absl::Status SyncFile(const std::string& path);
// Asks the OS to start writing `path`'s dirty pages to the disk now,
// without waiting (sync_file_range SYNC_FILE_RANGE_WRITE). Best effort: it
// makes a later SyncFile quicker, and only SyncFile makes the file durable.
// Without it, Linux starts on a copy's pages only at that SyncFile, or
// after 30 s, so a batch of copies ends with all of its writing still to
// do.
void StartWriteback(const std::string& path);

// Writes `content` to `path` through `path`.tmp: write, fsync, rename, then
// fsync of the directory. Readers see the old or the new content, never a
// mix; once OK, the new content survives a power loss.
absl::Status WriteFileAtomically(leveldb::Env* env, const std::string& path,
                                 absl::string_view content);

// The whole content of `path`; NOT_FOUND when it does not exist.
absl::StatusOr<std::string> ReadFile(leveldb::Env* env, const std::string& path);

// Removes `path` (a file) and makes the removal durable. OK if it was absent.
absl::Status RemoveFileDurably(leveldb::Env* env, const std::string& path);

// Creates `dir` and any missing parents. OK if it exists.
absl::Status CreateDirs(leveldb::Env* env, const std::string& dir);

// Renames a file or directory (one rename(2): atomic on one file system) and
// makes it durable in both parent directories.
absl::Status RenameDurably(leveldb::Env* env, const std::string& from, const std::string& to);

// Removes `path` and, if it is a directory, everything below it. OK if it
// was absent. For derived data only (temporary copies, expired backups):
// callers journal or log what they remove.
absl::Status RemoveTree(leveldb::Env* env, const std::string& path);

// How long ago `path` (or, for a directory, the newest entry directly in
// it) was last modified, by the file system's own clock: a property of the
// files, not of the injected Clock. NOT_FOUND when it does not exist.
absl::StatusOr<absl::Duration> UnmodifiedFor(const std::string& path);

// The directory holding `path` ("." for a bare name).
std::string Parent(const std::string& path);
// The last component of `path` (all of it for a bare name).
std::string Basename(const std::string& path);

}  // namespace agentcom::files

#endif  // AGENTCOM_COMMON_FILES_FILES_H_
