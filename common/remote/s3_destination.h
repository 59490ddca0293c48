#ifndef AGENTCOM_COMMON_REMOTE_S3_DESTINATION_H_
#define AGENTCOM_COMMON_REMOTE_S3_DESTINATION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/remote/destination.h"

namespace agentcom::remote {

struct S3Options {
  std::string endpoint;  // scheme://host[:port]
  std::string bucket;
  std::string prefix;  // keys are "<prefix>/<key>" (no '/' when empty)
  std::string region = "us-east-1";
  std::string access_key_id;
  std::string secret_access_key;
  std::string ca_file;  // empty: the system's CA certificates
  absl::Duration timeout = absl::Seconds(30);
  int attempts = 4;  // per request; the waits between double from backoff
  absl::Duration backoff = absl::Milliseconds(200);
  // Uploads longer than this go as a multipart upload of parts this long.
  uint64_t part_size = 16 << 20;
  // Keys per listing request (S3's max-keys; at most 1000).
  int list_page_size = 1000;
};

// S3-compatible object storage, by path-style requests through libcurl,
// which signs them (AWS Signature Version 4, CURLOPT_AWS_SIGV4). Every
// request carries the SHA-256 of its body (signed); an upload also carries
// its MD5 (Content-MD5: the store refuses bytes that do not match), the
// ETag the store answers is checked against it, and the object's SHA-256
// is kept as its metadata (x-amz-meta-sha256) for downloads to check.
// Server errors, throttling and failed connections are retried with
// exponential backoff. Thread-safe (each request has its own handle).
class S3Destination : public Destination {
 public:
  explicit S3Destination(S3Options options);

  std::string Describe() const override;
  // Creates the bucket unless it exists (owned by these credentials).
  absl::Status Prepare() override;
  absl::Status Upload(const std::string& path, uint64_t offset, uint64_t length,
                      const std::string& key) override;
  absl::Status Download(const std::string& key, const std::string& path) override;
  absl::StatusOr<std::vector<RemoteObject>> List(const std::string& prefix) override;
  absl::Status Delete(const std::string& key) override;

  // One HTTP exchange (exposed for the tests' fault injection).
  struct Response {
    long status = 0;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;  // names lowercase
    std::string Header(const std::string& name) const;
  };

 private:
  struct Request;
  // Sends the request, retrying as described; a response with a status
  // below 500 (other than 429) is returned as it is.
  absl::StatusOr<Response> Send(const Request& request) const;
  absl::StatusOr<Response> SendOnce(const Request& request) const;
  // The status for a response that is not 2xx.
  absl::Status ErrorFor(const std::string& what, const Response& response) const;
  std::string ObjectPath(const std::string& key) const;
  absl::Status PutPart(const std::string& key, const std::string& query, const std::string& data,
                       const std::string& sha256, std::string* etag) const;
  absl::Status UploadMultipart(const std::string& path, uint64_t offset, uint64_t length,
                               const std::string& key, const std::string& sha256);

  const S3Options options_;
};

}  // namespace agentcom::remote

#endif  // AGENTCOM_COMMON_REMOTE_S3_DESTINATION_H_
