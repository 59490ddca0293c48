#ifndef AGENTCOM_COMMON_IDS_RANDOM_ID_H_
#define AGENTCOM_COMMON_IDS_RANDOM_ID_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"

namespace agentcom::ids {

// `bytes` random bytes from OpenSSL's CSPRNG as lower-case hex (2 x bytes
// characters): message ids, task ids, intent keys, tokens. UNAVAILABLE when
// the generator cannot provide them (it is not seeded); never a weak id.
// Thread-safe.
absl::StatusOr<std::string> RandomHex(size_t bytes);

}  // namespace agentcom::ids

#endif  // AGENTCOM_COMMON_IDS_RANDOM_ID_H_
