#ifndef AGENTCOM_COMMON_REMOTE_DESTINATION_H_
#define AGENTCOM_COMMON_REMOTE_DESTINATION_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agentcom/topology/v1/topology.pb.h"

namespace agentcom::remote {

// One object of a destination.
struct RemoteObject {
  std::string key;  // relative to the destination's prefix
  uint64_t size = 0;
};

// Where copies of the backup directory go off this host: an S3-compatible
// object store, or another directory (a mounted network share). Keys are
// paths relative to the destination's root ("<table>/pool/<name>"), made of
// [A-Za-z0-9._-] components separated by '/'. An object, once written, is
// whole: readers see all of it or none. Thread-safe; calls block for at most
// the destination's timeout times its retries.
//
// Errors name the destination (never a secret): UNAVAILABLE when it cannot
// be reached or answers with a server error (after retries),
// PERMISSION_DENIED for rejected credentials, NOT_FOUND for a missing key,
// DATA_LOSS when bytes read or written do not match their checksum,
// INVALID_ARGUMENT for a key that is not allowed.
class Destination {
 public:
  virtual ~Destination() = default;

  // "s3://bucket/prefix at https://host:port" or "directory /mnt/x".
  virtual std::string Describe() const = 0;

  // Makes the destination ready to take uploads: creates the bucket unless
  // it exists; checks that the directory exists (a share that is not
  // mounted must not fill the local disk). Idempotent.
  virtual absl::Status Prepare() = 0;

  // Stores bytes [offset, offset + length) of the local file `path` as `key`
  // (replacing an object of that key), and checks that the destination holds
  // exactly those bytes (their checksum, as the destination computed it).
  virtual absl::Status Upload(const std::string& path, uint64_t offset, uint64_t length,
                              const std::string& key) = 0;

  // Writes the object to the new local file `path` (fsynced) and checks its
  // SHA-256 against the one recorded at upload. On error `path` is removed.
  virtual absl::Status Download(const std::string& key, const std::string& path) = 0;

  // Objects whose keys start with `prefix`, in key order.
  virtual absl::StatusOr<std::vector<RemoteObject>> List(const std::string& prefix) = 0;

  // Removes the object; OK when it was absent.
  virtual absl::Status Delete(const std::string& key) = 0;
};

// Whether `key` is allowed (see Destination).
bool IsValidKey(const std::string& key);

// The destination a deployment's configuration names (topology.proto's
// RemoteBackup); reads the credentials file, which must not be readable by
// group or others. FAILED_PRECONDITION for an incomplete configuration.
absl::StatusOr<std::unique_ptr<Destination>> OpenDestination(
    const topology::v1::RemoteBackup& config);

namespace internal {
// Reads bytes [offset, offset + length) of `path`: NOT_FOUND when it does
// not exist, DATA_LOSS when it is shorter.
absl::Status ReadRange(const std::string& path, uint64_t offset, uint64_t length, std::string* out);
}  // namespace internal

}  // namespace agentcom::remote

#endif  // AGENTCOM_COMMON_REMOTE_DESTINATION_H_
