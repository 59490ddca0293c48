#ifndef AGENTCOM_COMMON_AUTH_AUTHORIZER_H_
#define AGENTCOM_COMMON_AUTH_AUTHORIZER_H_

#include <grpcpp/server_context.h>

#include <array>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace agentcom::auth {

// What a caller may do. Admin includes everything an agent may do.
enum class Role { kAgent, kAdmin };

// Checks bearer tokens against the agent and admin tokens. Immutable after
// construction, so thread-safe. Tokens are kept only as SHA-256 digests and
// compared in constant time; neither they nor the presented value ever appear
// in an error message.
class Authorizer {
 public:
  Authorizer(absl::string_view agent_token, absl::string_view admin_token);

  // Loads (creating on first run) both token files; see LoadOrCreateToken.
  static absl::StatusOr<std::unique_ptr<Authorizer>> FromFiles(const std::string& agent_token_file,
                                                               const std::string& admin_token_file);

  // `authorization` is the value of the "authorization" header, expected as
  // "Bearer <token>". OK when the token's role includes `required`;
  // UNAUTHENTICATED when missing or unknown; PERMISSION_DENIED when the token
  // is valid but its role is not enough.
  absl::Status Check(absl::string_view authorization, Role required) const;

  // Same, reading the header from a gRPC call's client metadata.
  absl::Status Check(const grpc::ServerContextBase& context, Role required) const;

 private:
  using Digest = std::array<unsigned char, 32>;
  static Digest Hash(absl::string_view token);

  Digest agent_;
  Digest admin_;
};

// Metadata header name and value for a client call with `token`.
inline constexpr char kAuthorizationHeader[] = "authorization";
std::string BearerValue(absl::string_view token);

}  // namespace agentcom::auth

#endif  // AGENTCOM_COMMON_AUTH_AUTHORIZER_H_
