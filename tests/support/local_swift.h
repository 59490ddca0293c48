#ifndef AGENTCOM_TESTS_SUPPORT_LOCAL_SWIFT_H_
#define AGENTCOM_TESTS_SUPPORT_LOCAL_SWIFT_H_

#include <string>

#include "agentcom/topology/v1/topology.pb.h"
#include "tests/support/test_support.h"

namespace agentcom::testing {

// A real single-node OpenStack Swift with its S3 API on 127.0.0.1, started
// by deploy/swift/start-swift.sh in a temporary directory and stopped with
// the object. Stop() and Start() take it down and bring the same one back
// (same port, credentials and objects), for outage tests.
class LocalSwift {
 public:
  LocalSwift();
  ~LocalSwift();
  bool ok() const { return !endpoint_.empty(); }
  const std::string& endpoint() const { return endpoint_; }
  std::string credentials_file() const { return dir_.Sub("s3.credentials"); }
  // The tempauth user's S3 keys, as written in credentials_file().
  std::string access_key_id() const { return "agentcom:backup"; }
  std::string secret_access_key() const;
  // Where Swift keeps object data (for damaging an object at rest).
  std::string devices_dir() const { return dir_.Sub("srv"); }
  void Stop();
  void Start();
  // A RemoteBackup configuration for `bucket` on this Swift.
  topology::v1::RemoteBackup Config(const std::string& bucket,
                                    const std::string& prefix = "agentcom") const;

 private:
  TempDir dir_;
  std::string endpoint_;
};

}  // namespace agentcom::testing

#endif  // AGENTCOM_TESTS_SUPPORT_LOCAL_SWIFT_H_
