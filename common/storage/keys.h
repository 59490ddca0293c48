#ifndef AGENTCOM_COMMON_STORAGE_KEYS_H_
#define AGENTCOM_COMMON_STORAGE_KEYS_H_

// Order-preserving key encodings shared by the stores' index layouts.

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace agentcom::storage {

// Big-endian: byte order equals numeric order.
inline std::string EncodeU64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return out;
}

// Reads the first 8 bytes written by EncodeU64.
inline uint64_t DecodeU64(absl::string_view s) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8 && i < s.size(); ++i) {
    v = (v << 8) | static_cast<unsigned char>(s[i]);
  }
  return v;
}

// Signed values sort correctly once the sign bit is flipped.
inline std::string EncodeI64(int64_t v) {
  return EncodeU64(static_cast<uint64_t>(v) ^ (uint64_t{1} << 63));
}

inline int64_t DecodeI64(absl::string_view s) {
  return static_cast<int64_t>(DecodeU64(s) ^ (uint64_t{1} << 63));
}

// The separator between variable-length key components. Ids never contain
// it (they are checked against [A-Za-z0-9._:@-]), so a prefix ending in it
// matches exactly one component value.
inline constexpr absl::string_view kSep("\0", 1);
// The smallest byte greater than kSep: a scan limit for "every key of this
// component".
inline constexpr absl::string_view kSepEnd("\x01", 1);

}  // namespace agentcom::storage

#endif  // AGENTCOM_COMMON_STORAGE_KEYS_H_
