#include "common/storage/format.h"

#include "absl/strings/escaping.h"

namespace agentcom::storage::internal {
namespace {

void PutFixed64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t GetFixed64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

void PutVarint32(std::string* out, uint32_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

}  // namespace

std::string EncodeStats(const StoredStats& stats) {
  std::string out;
  out.push_back(1);  // version
  PutFixed64(&out, stats.records);
  PutFixed64(&out, stats.logical_bytes);
  out.push_back(stats.clean ? 1 : 0);
  return out;
}

std::optional<StoredStats> DecodeStats(absl::string_view bytes) {
  if (bytes.size() != 18 || bytes[0] != 1) return std::nullopt;
  StoredStats s;
  s.records = GetFixed64(bytes.data() + 1);
  s.logical_bytes = GetFixed64(bytes.data() + 9);
  s.clean = bytes[17] == 1;
  return s;
}

void ContentHasher::Add(absl::string_view key, absl::string_view value) {
  std::string prefix;
  PutVarint32(&prefix, static_cast<uint32_t>(key.size()));
  sha_.Update(prefix);
  sha_.Update(key);
  prefix.clear();
  PutVarint32(&prefix, static_cast<uint32_t>(value.size()));
  sha_.Update(prefix);
  sha_.Update(value);
  ++count_;
  logical_bytes_ += key.size() + value.size();
}

}  // namespace agentcom::storage::internal
