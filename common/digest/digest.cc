#include "common/digest/digest.h"

#include <openssl/evp.h>

#include "absl/strings/escaping.h"

namespace agentcom::digest {

Digest::Digest(const EVP_MD* md) : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, md, nullptr); }

Digest::~Digest() { EVP_MD_CTX_free(ctx_); }

void Digest::Update(absl::string_view data) { EVP_DigestUpdate(ctx_, data.data(), data.size()); }

std::string Digest::RawDigest() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_, digest, &len);
  return std::string(reinterpret_cast<const char*>(digest), len);
}

std::string Digest::HexDigest() { return absl::BytesToHexString(RawDigest()); }

Sha256::Sha256() : Digest(EVP_sha256()) {}

Md5::Md5() : Digest(EVP_md5()) {}

}  // namespace agentcom::digest
