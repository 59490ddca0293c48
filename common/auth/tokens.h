#ifndef AGENTCOM_COMMON_AUTH_TOKENS_H_
#define AGENTCOM_COMMON_AUTH_TOKENS_H_

#include <string>

#include "absl/status/statusor.h"

namespace agentcom::auth {

// Returns the bearer token stored in `path`. When the file does not exist it
// is created atomically (parent directories too) with a fresh random token and
// mode 0600; several processes starting at once all end up with the same
// token. A file readable or writable by group or others is refused
// (PERMISSION_DENIED), as is an empty or malformed one (FAILED_PRECONDITION).
// The token itself never appears in an error message.
absl::StatusOr<std::string> LoadOrCreateToken(const std::string& path);

// Reads an existing token file without creating it (for clients).
absl::StatusOr<std::string> ReadToken(const std::string& path);

}  // namespace agentcom::auth

#endif  // AGENTCOM_COMMON_AUTH_TOKENS_H_
