#ifndef AGENTCOM_COMMON_STORAGE_FORMAT_H_
#define AGENTCOM_COMMON_STORAGE_FORMAT_H_

// Internal to common/storage: how records are laid out inside a LevelDB
// directory, and the hashes shared by Verify, backups and restore.

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/digest/digest.h"

namespace leveldb {
class DB;
class Status;
}  // namespace leveldb

namespace agentcom::storage::internal {

// User records live under kDataPrefix + key; the table's own bookkeeping
// under kMetaPrefix, so it never shows up in scans, counts or backups.
inline constexpr char kDataPrefix = 'd';
inline constexpr char kMetaPrefix = 'm';
inline constexpr absl::string_view kStatsKey = "mstats";
// The floor below which Table::NextSequence never goes (EncodeU64), set
// when a table opens after a restore that may have lost writes.
inline constexpr absl::string_view kSequenceFloorKey = "mseqfloor";
// Written in every batch the table commits: when it committed (EncodeU64 of
// Unix microseconds, never decreasing within a table). The write-ahead logs
// then say when each batch was acknowledged, which a point-in-time restore
// needs (BatchCommitTime in wal_replay.h).
inline constexpr absl::string_view kCommitTimeKey = "mtime";

inline std::string DataKey(absl::string_view key) {
  std::string k;
  k.reserve(key.size() + 1);
  k.push_back(kDataPrefix);
  k.append(key.data(), key.size());
  return k;
}

// Estimated bytes a record costs in a freshly compacted, uncompressed table
// beyond its key and value: LevelDB's 8-byte sequence/type tag, three
// varint lengths, the 1-byte key prefix above, restart points, index and
// bloom filter share. Measured on this engine's defaults; see
// fragmentation_ratio in table.proto.
inline constexpr uint64_t kRecordOverheadBytes = 14;

// Bytes no compaction can reclaim (LevelDB's MANIFEST, the current log's
// header and this engine's own bookkeeping), so a small or empty table does
// not look fragmented.
inline constexpr uint64_t kUnreclaimableBytes = 64 << 10;

// Record count and logical size, checkpointed under kStatsKey. `clean` is
// true only when written by an orderly close; after a crash the numbers are
// recomputed by a scan at open.
struct StoredStats {
  uint64_t records = 0;
  uint64_t logical_bytes = 0;
  bool clean = false;
};
std::string EncodeStats(const StoredStats& stats);
std::optional<StoredStats> DecodeStats(absl::string_view bytes);

using Sha256 = ::agentcom::digest::Sha256;

// The content hash of a sorted record stream: each record contributes
// varint32(len(key)) key varint32(len(value)) value.
//
// A traversal that feeds it is about half iteration and half SHA-256, so
// the hashing runs on a thread of its own once the stream outgrows one
// chunk: Add encodes records into chunks and hands full ones over (at most
// kChunksInFlight wait, so memory stays bounded). Small streams are hashed
// on the caller's thread, with no thread started. Not thread-safe: one
// caller feeds it.
class ContentHasher {
 public:
  static constexpr size_t kChunkBytes = 256 << 10;
  static constexpr size_t kChunksInFlight = 8;

  ContentHasher() = default;
  ~ContentHasher();
  ContentHasher(const ContentHasher&) = delete;
  ContentHasher& operator=(const ContentHasher&) = delete;

  void Add(absl::string_view key, absl::string_view value);
  uint64_t count() const { return count_; }
  uint64_t logical_bytes() const { return logical_bytes_; }
  // Call once, after the last Add.
  std::string HexDigest();

 private:
  void HandOver();
  void HashLoop();
  // Ends the worker after it has hashed every chunk handed over.
  void Drain();

  // Owned by the worker while it runs, by the caller otherwise.
  Sha256 sha_;
  std::string chunk_;
  uint64_t count_ = 0;
  uint64_t logical_bytes_ = 0;
  std::thread worker_;
  absl::Mutex mu_;
  std::deque<std::string> full_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

// Feeds every user record of `db` (without the data prefix) to `hasher`
// in key order, every block's checksum verified and the block cache left
// alone: the traversal of Table::Verify, of a verified restore and of a
// replay. The iterator's status: Corruption when a block is damaged.
leveldb::Status HashRecords(leveldb::DB* db, ContentHasher* hasher);

}  // namespace agentcom::storage::internal

#endif  // AGENTCOM_COMMON_STORAGE_FORMAT_H_
