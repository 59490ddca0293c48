#ifndef AGENTCOM_COMMON_STORAGE_WAL_H_
#define AGENTCOM_COMMON_STORAGE_WAL_H_

// Reading LevelDB's write-ahead logs (NNNNNN.log) ourselves, to replay the
// writes a backup does not hold onto a restored table, and its MANIFEST, to
// refuse one whose tail is damaged. LevelDB installs no
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
#include <functional>
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

// Bytes of a record header in LevelDB's log format.
inline constexpr size_t kWalHeaderBytes = 7;

// How a file in LevelDB's log format (write-ahead logs and MANIFESTs share
// it) read back.
struct LogFile {
  // The file ends inside its last record: the write a crash interrupted.
  // LevelDB never acknowledged it, so nothing is lost. (A record whose
  // length runs past the end with intact records after it is damage.)
  bool torn_tail = false;
  // The first complete record that failed its checksum or was not accepted
  // (or zeroed bytes with records after them). Reading resumes at the next
  // 32 KiB block, as LevelDB's reader does, so records after the damage are
  // still read. Empty when the file is intact.
  std::string damage;
  uint64_t damage_offset = 0;
  // How many damaged regions were skipped.
  uint64_t damaged_regions = 0;
};

// What one write-ahead log holds.
struct WalFile : LogFile {
  // The batches that read back intact, in file order; their sequence
  // numbers show what a damaged region skipped.
  std::vector<WalBatch> batches;
};

// Reads the log-format file at `path` through `env`, handing each intact
// logical record to `accept`; a record it refuses (an error) counts as
// damage there. Errors reading the file (it is missing, an I/O error) fail
// the call; damage inside it does not, and is described in the result.
absl::StatusOr<LogFile> ReadLogFile(
    leveldb::Env* env, const std::string& path,
    const std::function<absl::Status(absl::string_view record)>& accept);

// Reads the write-ahead log at `path` (ReadLogFile, each record decoded as
// a WriteBatch).
absl::StatusOr<WalFile> ReadWalFile(leveldb::Env* env, const std::string& path);

// Checks, before LevelDB opens the directory `dir`, the MANIFEST its CURRENT
// names. LevelDB reads a MANIFEST like a log: a record whose length field is
// damaged so that it seems to run past the end is taken for a write torn by a
// crash and dropped, with every version edit after it, and LevelDB opens an
// older state of the table without a word (its logs since then are in our
// archive, so it never replays them). Returns the damage for the table's
// corruption reason, or "" when the MANIFEST reads back intact, does not end
// inside a record (LevelDB syncs each edit, so only a crash mid-edit could
// tear it, and that cannot be told from damage: a restore then loses
// nothing), and its last log number is above every log in `archive_dir`
// (LevelDB retires a log only after an edit records a later one, so an
// archived log at or above it means whole edits were cut off). Not called
// after leveldb::RepairDB, whose MANIFEST records no log.
std::string CheckManifest(leveldb::Env* env, const std::string& dir,
                          const std::string& archive_dir);

// The log number a MANIFEST record (one version edit) sets, 0 when it sets
// none. DATA_LOSS when malformed.
absl::StatusOr<uint64_t> ManifestEditLogNumber(absl::string_view edit);

// Decodes one WriteBatch (a logical log record). DATA_LOSS when malformed.
absl::StatusOr<WalBatch> DecodeWalBatch(absl::string_view record);

// The file number of "NNNNNN.log", or nullopt for another name.
std::optional<uint64_t> LogFileNumber(absl::string_view file_name);

// CRC32C (Castagnoli), in hardware where the CPU has it.
uint32_t Crc32c(absl::string_view data);
// CRC32C as LevelDB stores it in log records (masked).
uint32_t MaskedCrc32c(absl::string_view data);

namespace internal {
// Crc32c without the hardware instruction (the reference in tests).
uint32_t PortableCrc32c(absl::string_view data);
}  // namespace internal

// Appends one record to a log image in LevelDB's format (fragmenting it
// across 32 KiB blocks). For tests, which build damaged logs from it.
void AppendWalRecord(absl::string_view record, std::string* log);
// Encodes a WriteBatch record as LevelDB does. For tests.
std::string EncodeWalBatch(const WalBatch& batch);

}  // namespace agentcom::storage

#endif  // AGENTCOM_COMMON_STORAGE_WAL_H_
