#include "common/auth/authorizer.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/auth/tokens.h"

namespace agentcom::auth {

Authorizer::Authorizer(absl::string_view agent_token, absl::string_view admin_token)
    : agent_(Hash(agent_token)), admin_(Hash(admin_token)) {}

absl::StatusOr<std::unique_ptr<Authorizer>> Authorizer::FromFiles(
    const std::string& agent_token_file, const std::string& admin_token_file) {
  absl::StatusOr<std::string> agent = LoadOrCreateToken(agent_token_file);
  if (!agent.ok()) return agent.status();
  absl::StatusOr<std::string> admin = LoadOrCreateToken(admin_token_file);
  if (!admin.ok()) return admin.status();
  return std::make_unique<Authorizer>(*agent, *admin);
}

Authorizer::Digest Authorizer::Hash(absl::string_view token) {
  Digest d;
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), d.data());
  return d;
}

absl::Status Authorizer::Check(absl::string_view authorization, Role required) const {
  constexpr absl::string_view kBearer = "Bearer ";
  if (authorization.empty()) {
    return absl::UnauthenticatedError("missing 'authorization: Bearer <token>' metadata");
  }
  if (!absl::StartsWithIgnoreCase(authorization, kBearer)) {
    return absl::UnauthenticatedError("authorization metadata must be 'Bearer <token>'");
  }
  Digest presented = Hash(authorization.substr(kBearer.size()));
  // Both comparisons always run, so timing does not reveal which matched.
  bool is_admin = CRYPTO_memcmp(presented.data(), admin_.data(), admin_.size()) == 0;
  bool is_agent = CRYPTO_memcmp(presented.data(), agent_.data(), agent_.size()) == 0;
  if (is_admin) return absl::OkStatus();
  if (is_agent) {
    if (required == Role::kAgent) return absl::OkStatus();
    return absl::PermissionDeniedError("this call needs the admin token; an agent token was given");
  }
  return absl::UnauthenticatedError("unknown bearer token");
}

absl::Status Authorizer::Check(const grpc::ServerContextBase& context, Role required) const {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find(kAuthorizationHeader);
  if (it == metadata.end()) return Check(absl::string_view(), required);
  return Check(absl::string_view(it->second.data(), it->second.size()), required);
}

std::string BearerValue(absl::string_view token) { return absl::StrCat("Bearer ", token); }

}  // namespace agentcom::auth
