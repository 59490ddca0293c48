#ifndef AGENTCOM_TESTS_SUPPORT_TEST_SUPPORT_H_
#define AGENTCOM_TESTS_SUPPORT_TEST_SUPPORT_H_

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include <memory>
#include <string>
#include <vector>

#include "common/config/topology.h"

namespace agentcom::testing {

// A fresh directory under $TEST_TMPDIR or /tmp, removed with the object.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A port on 127.0.0.1 that was free a moment ago.
int FreePort();

// Flips `count` bytes in the middle of the largest table file (.ldb) in a
// LevelDB directory, where the data blocks are. Returns the file changed.
std::string FlipBytesInLargestTableFile(const std::string& dir, int count = 64);

// Flips `count` bytes at `offset` of `path`.
void FlipBytes(const std::string& path, uint64_t offset, int count);

// A topology rooted at `root` with the given stores (name -> tables), every
// address on 127.0.0.1 with a free port, maintenance at `maintenance_address`.
config::Topology MakeTopology(
    const std::string& root,
    const std::vector<std::pair<std::string, std::vector<std::string>>>& stores,
    const std::string& maintenance_address = "");

// Body of GET http://127.0.0.1:<port><path>, or "" when it fails.
std::string HttpGet(int port, const std::string& path);

// Token file contents.
std::string ReadFile(const std::string& path);

// Sets "authorization: Bearer <token>" on a context.
void Authorize(grpc::ClientContext* context, const std::string& token);

}  // namespace agentcom::testing

#endif  // AGENTCOM_TESTS_SUPPORT_TEST_SUPPORT_H_
