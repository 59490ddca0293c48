#ifndef AGENTCOM_COMMON_DIGEST_DIGEST_H_
#define AGENTCOM_COMMON_DIGEST_DIGEST_H_

#include <string>

#include "absl/strings/string_view.h"

typedef struct evp_md_ctx_st EVP_MD_CTX;
typedef struct evp_md_st EVP_MD;

namespace agentcom::digest {

// An incremental message digest (OpenSSL's EVP). Not thread-safe; the
// object must not be used after Digest() / HexDigest().
class Digest {
 public:
  ~Digest();
  Digest(const Digest&) = delete;
  Digest& operator=(const Digest&) = delete;
  void Update(absl::string_view data);
  // The raw bytes of the digest.
  std::string RawDigest();
  // Lower-case hex.
  std::string HexDigest();

 protected:
  explicit Digest(const EVP_MD* md);

 private:
  EVP_MD_CTX* ctx_;
};

class Sha256 : public Digest {
 public:
  Sha256();
};

// For the checksums object stores compute (Content-MD5, ETag); never for
// anything that must resist a forger.
class Md5 : public Digest {
 public:
  Md5();
};

}  // namespace agentcom::digest

#endif  // AGENTCOM_COMMON_DIGEST_DIGEST_H_
