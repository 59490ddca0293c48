#ifndef AGENTCOM_COMMON_STORAGE_WAL_H_
#define AGENTCOM_COMMON_STORAGE_WAL_H_

// Reading LevelDB's write-ahead logs (NNNNNN.log) ourselves, to replay the
// writes a backup does not hold onto a restored table. LevelDB installs no
// header for its log reader, so this is a small reader of the documented
// format (leveldb doc/log_format.md, db/write_batch.cc):
//   - the file is a sequence of 32 KiB blocks; a block holds records of a
//     7-byte header (masked CRC32C of type and data: 4 bytes LE, length: 2
//     bytes LE, type: 1 byte) and data; a record that does not fit is split
//     into FIRST, MIDDLE... LAST fragments; a block tail shorter than a
//     header is zero padding;
//   - each logical record is one WriteBatch: sequence number (8 bytes LE),
//     count (4 bytes LE), then per operation a tag (1: put, 0: delete) and
//     varint32-length-prefixed key (and value for a put).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace leveldb {
class Env;
}

namespace agentcom::storage {

// One decoded WriteBatch.
struct WalBatch {
  struct Op {
    std::string key;
    std::optional<std::string> value;  // nullopt: delete
  };
  // Sequence number of the first operation; the batch's operations have
  // sequence, sequence + 1, ... sequence + ops.size() - 1.
  uint64_t sequence = 0;
  std::vector<Op> ops;
};

// What one log file holds.
struct WalFile {
  // The batches that read back intact, in file order.
  std::vector<WalBatch> batches;
  // The file ends inside its last record: the write a crash interrupted.
  // LevelDB never acknowledged it, so nothing is lost.
  bool torn_tail = false;
  // The first complete record that failed its checksum or did not parse
  // (or zeroed bytes with records after them). Reading resumes at the next
  // 32 KiB block, as LevelDB's reader does, so batches after the damage are
  // still read; the sequence numbers of the batches show what was skipped.
  // Empty when the file is intact.
  std::string damage;
  uint64_t damage_offset = 0;
  // How many damaged regions were skipped.
  uint64_t damaged_regions = 0;
};

// Reads the log file at `path` through `env`. Errors reading the file (it
// is missing, an I/O error) fail the call; damage inside it does not, and is
// described in the result.
absl::StatusOr<WalFile> ReadWalFile(leveldb::Env* env, const std::string& path);

// Decodes one WriteBatch (a logical log record). DATA_LOSS when malformed.
absl::StatusOr<WalBatch> DecodeWalBatch(absl::string_view record);

// The file number of "NNNNNN.log", or nullopt for another name.
std::optional<uint64_t> LogFileNumber(absl::string_view file_name);

// CRC32C as LevelDB stores it in log records (masked).
uint32_t MaskedCrc32c(absl::string_view data);

// Appends one record to a log image in LevelDB's format (fragmenting it
// across 32 KiB blocks). For tests, which build damaged logs from it.
void AppendWalRecord(absl::string_view record, std::string* log);
// Encodes a WriteBatch record as LevelDB does. For tests.
std::string EncodeWalBatch(const WalBatch& batch);

}  // namespace agentcom::storage

#endif  // AGENTCOM_COMMON_STORAGE_WAL_H_
