#include "common/ids/random_id.h"

#include <openssl/rand.h>

#include <vector>

#include "absl/strings/escaping.h"

namespace agentcom::ids {

absl::StatusOr<std::string> RandomHex(size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) {
    return absl::UnavailableError("no randomness available for a new id");
  }
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(raw.data()), raw.size()));
}

}  // namespace agentcom::ids
