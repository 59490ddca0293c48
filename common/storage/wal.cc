#include "common/storage/wal.h"

#include <leveldb/env.h>

#include <algorithm>
#include <boost/crc.hpp>
#include <cstring>
#include <limits>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace agentcom::storage {
namespace {

constexpr size_t kBlockSize = 32768;
constexpr size_t kHeaderSize = kWalHeaderBytes;
constexpr char kFullType = 1;
constexpr char kFirstType = 2;
constexpr char kMiddleType = 3;
constexpr char kLastType = 4;
constexpr char kTypeDeletion = 0;
constexpr char kTypeValue = 1;
constexpr uint32_t kMaskDelta = 0xa282ead8u;

uint32_t Fixed32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return uint32_t{u[0]} | (uint32_t{u[1]} << 8) | (uint32_t{u[2]} << 16) | (uint32_t{u[3]} << 24);
}

uint64_t Fixed64(const char* p) { return uint64_t{Fixed32(p)} | (uint64_t{Fixed32(p + 4)} << 32); }

void PutFixed32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void PutVarint32(std::string* out, uint32_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

template <typename Int>
bool GetVarint(absl::string_view* in, Int* v) {
  *v = 0;
  for (size_t shift = 0; shift < 8 * sizeof(Int) && !in->empty(); shift += 7) {
    const auto byte = static_cast<unsigned char>(in->front());
    in->remove_prefix(1);
    *v |= static_cast<Int>(byte & 0x7fu) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

bool GetVarint32(absl::string_view* in, uint32_t* v) { return GetVarint(in, v); }
bool GetVarint64(absl::string_view* in, uint64_t* v) { return GetVarint(in, v); }

bool GetLengthPrefixed(absl::string_view* in, std::string* out) {
  uint32_t n = 0;
  if (!GetVarint32(in, &n) || in->size() < n) return false;
  out->assign(in->data(), n);
  in->remove_prefix(n);
  return true;
}

#if defined(__x86_64__)
// The SSE4.2 crc32 instruction computes CRC32C eight bytes at a time, ~20
// times faster than Boost's table (reading a log was mostly this).
__attribute__((target("sse4.2"))) uint32_t HardwareCrc32c(absl::string_view data) {
  uint64_t crc = 0xFFFFFFFFu;
  const char* p = data.data();
  size_t n = data.size();
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    crc = __builtin_ia32_crc32di(crc, word);
  }
  auto crc32 = static_cast<uint32_t>(crc);
  for (; n > 0; ++p, --n) crc32 = __builtin_ia32_crc32qi(crc32, static_cast<unsigned char>(*p));
  return ~crc32;
}

const bool kHardwareCrc = __builtin_cpu_supports("sse4.2");
#endif

}  // namespace

uint32_t internal::PortableCrc32c(absl::string_view data) {
  boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true> crc;
  crc.process_bytes(data.data(), data.size());
  return crc.checksum();
}

uint32_t Crc32c(absl::string_view data) {
#if defined(__x86_64__)
  if (kHardwareCrc) return HardwareCrc32c(data);
#endif
  return internal::PortableCrc32c(data);
}

uint32_t MaskedCrc32c(absl::string_view data) {
  const uint32_t crc = Crc32c(data);
  return ((crc >> 15) | (crc << 17)) + kMaskDelta;
}

std::optional<uint64_t> LogFileNumber(absl::string_view name) {
  if (!absl::ConsumeSuffix(&name, ".log") || name.empty()) return std::nullopt;
  for (char c : name) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return std::nullopt;
  }
  uint64_t number = 0;
  if (!absl::SimpleAtoi(name, &number)) return std::nullopt;
  return number;
}

absl::StatusOr<WalBatch> DecodeWalBatch(absl::string_view record) {
  if (record.size() < 12) return absl::DataLossError("write batch shorter than its header");
  WalBatch batch;
  batch.sequence = Fixed64(record.data());
  const uint32_t count = Fixed32(record.data() + 8);
  record.remove_prefix(12);
  while (!record.empty()) {
    const char tag = record.front();
    record.remove_prefix(1);
    WalBatch::Op op;
    if (!GetLengthPrefixed(&record, &op.key)) return absl::DataLossError("bad key in write batch");
    if (tag == kTypeValue) {
      std::string value;
      if (!GetLengthPrefixed(&record, &value)) {
        return absl::DataLossError("bad value in write batch");
      }
      op.value = std::move(value);
    } else if (tag != kTypeDeletion) {
      return absl::DataLossError(
          absl::StrCat("unknown tag ", static_cast<int>(tag), " in write batch"));
    }
    batch.ops.push_back(std::move(op));
  }
  if (batch.ops.size() != count) {
    return absl::DataLossError(
        absl::StrCat("write batch holds ", batch.ops.size(), " operations, header says ", count));
  }
  return batch;
}

std::string EncodeWalBatch(const WalBatch& batch) {
  std::string out;
  PutFixed32(&out, static_cast<uint32_t>(batch.sequence & 0xffffffffu));
  PutFixed32(&out, static_cast<uint32_t>(batch.sequence >> 32));
  PutFixed32(&out, static_cast<uint32_t>(batch.ops.size()));
  for (const auto& op : batch.ops) {
    out.push_back(op.value ? kTypeValue : kTypeDeletion);
    PutVarint32(&out, static_cast<uint32_t>(op.key.size()));
    out += op.key;
    if (op.value) {
      PutVarint32(&out, static_cast<uint32_t>(op.value->size()));
      out += *op.value;
    }
  }
  return out;
}

void AppendWalRecord(absl::string_view record, std::string* log) {
  bool first = true;
  do {
    size_t left = kBlockSize - log->size() % kBlockSize;
    if (left < kHeaderSize) {
      log->append(left, '\0');
      left = kBlockSize;
    }
    const size_t n = std::min(record.size(), left - kHeaderSize);
    const bool last = n == record.size();
    const char type = first && last ? kFullType
                      : first       ? kFirstType
                      : last        ? kLastType
                                    : kMiddleType;
    std::string typed(1, type);
    typed.append(record.data(), n);
    PutFixed32(log, MaskedCrc32c(typed));
    log->push_back(static_cast<char>(n & 0xff));
    log->push_back(static_cast<char>(n >> 8));
    log->append(typed);
    record.remove_prefix(n);
    first = false;
  } while (!record.empty());
}

namespace {

// Whether an intact record (plausible type, fits its block and the file,
// checksum matches) starts anywhere in contents[from, end): then a record
// whose length runs past the end of the file is damage, not a write torn by
// a crash (only the last record can be torn).
bool IntactRecordFrom(absl::string_view contents, size_t from) {
  for (size_t p = from; p + kHeaderSize <= contents.size(); ++p) {
    const char* header = contents.data() + p;
    const char type = header[6];
    if (type < kFullType || type > kLastType) continue;
    const size_t length = static_cast<unsigned char>(header[4]) |
                          (static_cast<size_t>(static_cast<unsigned char>(header[5])) << 8);
    if (p + kHeaderSize + length > contents.size() ||
        kHeaderSize + length > kBlockSize - p % kBlockSize) {
      continue;
    }
    if (MaskedCrc32c(absl::string_view(header + 6, 1 + length)) == Fixed32(header)) return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<LogFile> ReadLogFile(
    leveldb::Env* env, const std::string& path,
    const std::function<absl::Status(absl::string_view record)>& accept) {
  std::string contents;
  if (leveldb::Status s = leveldb::ReadFileToString(env, path, &contents); !s.ok()) {
    if (s.IsNotFound()) return absl::NotFoundError(s.ToString());
    return absl::UnavailableError(absl::StrCat("cannot read ", path, ": ", s.ToString()));
  }
  LogFile out;
  std::string pending;
  bool in_fragments = false;
  size_t pos = 0;
  // Where a run of zeros began (LevelDB pads nothing with zeros inside a
  // file; a zeroed region followed by more records is damage).
  constexpr size_t kNoZeros = std::numeric_limits<size_t>::max();
  size_t zeros_at = kNoZeros;
  // After damage: skip fragments until a record starts (LevelDB's reader
  // does the same), so the records in later blocks are still read.
  bool resyncing = false;
  auto damaged = [&](size_t at, std::string why) {
    if (out.damage.empty()) {
      out.damage = std::move(why);
      out.damage_offset = at;
    }
    ++out.damaged_regions;
    pending.clear();
    in_fragments = false;
    resyncing = true;
    pos += kBlockSize - pos % kBlockSize;  // on at the next block
  };
  while (pos < contents.size()) {
    const size_t block_left = kBlockSize - pos % kBlockSize;
    if (block_left < kHeaderSize) {  // zero padding at the end of a block
      pos += block_left;
      continue;
    }
    if (contents.size() - pos < kHeaderSize) {
      out.torn_tail = true;
      break;
    }
    const char* header = contents.data() + pos;
    const uint32_t crc = Fixed32(header);
    const size_t length = static_cast<unsigned char>(header[4]) |
                          (static_cast<size_t>(static_cast<unsigned char>(header[5])) << 8);
    const char type = header[6];
    if (type == 0 && length == 0 && crc == 0) {  // zeros: the end, unless records follow
      if (zeros_at == kNoZeros) zeros_at = pos;
      pos += block_left;
      continue;
    }
    if (pos + kHeaderSize + length > contents.size()) {
      if (IntactRecordFrom(contents, pos + 1)) {
        damaged(pos, absl::StrCat("the record at offset ", pos,
                                  " runs past the end of the file, but intact records follow"));
        continue;
      }
      out.torn_tail = true;
      break;
    }
    if (kHeaderSize + length > block_left) {
      damaged(pos, "a record runs past the end of its block");
      continue;
    }
    const absl::string_view typed(header + 6, 1 + length);
    if (MaskedCrc32c(typed) != crc) {
      damaged(pos, absl::StrCat("checksum mismatch in the record at offset ", pos));
      continue;
    }
    if (zeros_at != kNoZeros) {
      const size_t at = zeros_at;
      zeros_at = kNoZeros;
      const size_t here = pos;
      damaged(at, absl::StrCat("zeroed bytes from offset ", at));
      pos = here;  // this record is intact: read it
    }
    const size_t record_at = pos;
    pos += kHeaderSize + length;
    const absl::string_view data = typed.substr(1);
    if (resyncing && (type == kMiddleType || type == kLastType)) continue;  // a lost record's
    resyncing = false;
    std::optional<absl::string_view> record;
    if (type == kFullType && !in_fragments) {
      record = data;
    } else if (type == kFirstType && !in_fragments) {
      pending.assign(data.data(), data.size());
      in_fragments = true;
    } else if (type == kMiddleType && in_fragments) {
      pending.append(data.data(), data.size());
    } else if (type == kLastType && in_fragments) {
      pending.append(data.data(), data.size());
      in_fragments = false;
      record = pending;
    } else {
      pos = record_at;
      damaged(record_at, absl::StrCat("unexpected record type ", static_cast<int>(type),
                                      " at offset ", record_at));
      continue;
    }
    if (!record.has_value()) continue;
    if (absl::Status s = accept(*record); !s.ok()) {
      pos = record_at;
      damaged(record_at, std::string(s.message()));
      continue;
    }
  }
  if (in_fragments && out.damage.empty()) out.torn_tail = true;
  return out;
}

absl::StatusOr<WalFile> ReadWalFile(leveldb::Env* env, const std::string& path) {
  WalFile out;
  absl::StatusOr<LogFile> log =
      ReadLogFile(env, path, [&](absl::string_view record) -> absl::Status {
        absl::StatusOr<WalBatch> batch = DecodeWalBatch(record);
        if (!batch.ok()) return batch.status();
        out.batches.push_back(*std::move(batch));
        return absl::OkStatus();
      });
  if (!log.ok()) return log.status();
  out.torn_tail = log->torn_tail;
  out.damage = std::move(log->damage);
  out.damage_offset = log->damage_offset;
  out.damaged_regions = log->damaged_regions;
  return out;
}

absl::StatusOr<uint64_t> ManifestEditLogNumber(absl::string_view edit) {
  // leveldb db/version_edit.cc: a sequence of (varint32 tag, fields).
  uint64_t log_number = 0;
  std::string skipped;
  while (!edit.empty()) {
    uint32_t tag = 0;
    uint32_t level = 0;
    uint64_t number = 0;
    bool ok = GetVarint32(&edit, &tag);
    switch (tag) {
      case 1:  // comparator
        ok = ok && GetLengthPrefixed(&edit, &skipped);
        break;
      case 2:  // log number
        ok = ok && GetVarint64(&edit, &log_number);
        break;
      case 3:  // next file number
      case 4:  // last sequence
      case 9:  // previous log number
        ok = ok && GetVarint64(&edit, &number);
        break;
      case 5:  // compaction pointer
        ok = ok && GetVarint32(&edit, &level) && GetLengthPrefixed(&edit, &skipped);
        break;
      case 6:  // deleted file
        ok = ok && GetVarint32(&edit, &level) && GetVarint64(&edit, &number);
        break;
      case 7:  // new file: level, number, size, smallest and largest key
        ok = ok && GetVarint32(&edit, &level) && GetVarint64(&edit, &number) &&
             GetVarint64(&edit, &number) && GetLengthPrefixed(&edit, &skipped) &&
             GetLengthPrefixed(&edit, &skipped);
        break;
      default:
        ok = false;
    }
    if (!ok) return absl::DataLossError(absl::StrCat("malformed version edit (tag ", tag, ")"));
  }
  return log_number;
}

std::string CheckManifest(leveldb::Env* env, const std::string& dir,
                          const std::string& archive_dir) {
  std::string current;
  if (!leveldb::ReadFileToString(env, absl::StrCat(dir, "/CURRENT"), &current).ok()) return "";
  const std::string name(absl::StripTrailingAsciiWhitespace(current));
  uint64_t log_number = 0;
  absl::StatusOr<LogFile> manifest =
      ReadLogFile(env, absl::StrCat(dir, "/", name), [&](absl::string_view edit) -> absl::Status {
        absl::StatusOr<uint64_t> n = ManifestEditLogNumber(edit);
        if (!n.ok()) return n.status();
        log_number = std::max(log_number, *n);
        return absl::OkStatus();
      });
  if (!manifest.ok()) return "";  // LevelDB's own open reports a missing MANIFEST
  if (!manifest->damage.empty()) {
    return absl::StrCat("Corruption: ", name, " is damaged at offset ", manifest->damage_offset,
                        " (", manifest->damage, ")");
  }
  // LevelDB syncs each edit it appends, so only a crash in the middle of
  // writing one leaves a torn tail; a damaged length field looks the same.
  // Either way LevelDB would open the table without the edits from there on,
  // and nothing tells the two apart, so it is taken for damage: the restore
  // that follows loses nothing (backup plus logs).
  if (manifest->torn_tail) {
    return absl::StrCat("Corruption: ", name,
                        " ends inside a record (damaged, or torn by a crash while LevelDB "
                        "wrote it): LevelDB would drop the edits from there on");
  }
  std::vector<std::string> archived;
  if (!env->GetChildren(archive_dir, &archived).ok()) return "";
  for (const std::string& f : archived) {
    const std::optional<uint64_t> n = LogFileNumber(f);
    if (n.has_value() && *n >= log_number) {
      return absl::StrCat("Corruption: ", name, " ends before the edit that retired log ", *n,
                          " (archived in ", archive_dir,
                          "), so its tail is damaged: LevelDB would ",
                          "open an older state of the table and lose the writes since");
    }
  }
  return "";
}

}  // namespace agentcom::storage
