#ifndef AGENTCOM_COMMON_REMOTE_DIRECTORY_DESTINATION_H_
#define AGENTCOM_COMMON_REMOTE_DIRECTORY_DESTINATION_H_

#include <string>
#include <vector>

#include "common/remote/destination.h"

namespace agentcom::remote {

// Another file system (a mounted network share, a second disk): a key is a
// file under `root`. An upload is written beside its final name, fsynced,
// read back and checked, and renamed into place; its SHA-256 is kept in a
// sidecar "<key>.sha256~" (not listed) for downloads to check.
// Thread-safe.
class DirectoryDestination : public Destination {
 public:
  explicit DirectoryDestination(std::string root);

  std::string Describe() const override;
  // UNAVAILABLE when the directory does not exist.
  absl::Status Prepare() override;
  absl::Status Upload(const std::string& path, uint64_t offset, uint64_t length,
                      const std::string& key) override;
  absl::Status Download(const std::string& key, const std::string& path) override;
  absl::StatusOr<std::vector<RemoteObject>> List(const std::string& prefix) override;
  absl::Status Delete(const std::string& key) override;

 private:
  const std::string root_;
};

}  // namespace agentcom::remote

#endif  // AGENTCOM_COMMON_REMOTE_DIRECTORY_DESTINATION_H_
