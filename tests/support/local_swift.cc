#include "tests/support/local_swift.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace agentcom::testing {

LocalSwift::LocalSwift() { Start(); }

LocalSwift::~LocalSwift() { Stop(); }

void LocalSwift::Start() {
  int status = 0;
  std::string out = RunCommand(
      absl::StrCat(AGENTCOM_SOURCE_DIR, "/deploy/swift/start-swift.sh ", dir_.path()), &status);
  endpoint_ = status == 0 ? std::string(absl::StripAsciiWhitespace(out)) : "";
}

std::string LocalSwift::secret_access_key() const {
  const std::string creds = ReadFile(credentials_file());
  const std::string marker = "secret_access_key = ";
  const size_t at = creds.find(marker);
  if (at == std::string::npos) return "";
  std::string secret = creds.substr(at + marker.size());
  return secret.substr(0, secret.find('\n'));
}

void LocalSwift::Stop() {
  RunCommand(absl::StrCat(AGENTCOM_SOURCE_DIR, "/deploy/swift/stop-swift.sh ", dir_.path()));
}

topology::v1::RemoteBackup LocalSwift::Config(const std::string& bucket,
                                              const std::string& prefix) const {
  topology::v1::RemoteBackup r;
  r.set_kind("s3");
  r.set_endpoint(endpoint_);
  r.set_bucket(bucket);
  r.set_prefix(prefix);
  r.set_region("us-east-1");
  r.set_credentials_file(credentials_file());
  r.set_allow_plain_http(true);
  r.set_request_timeout_seconds(10);
  r.set_attempts(2);
  r.set_upload_interval_seconds(1);
  r.set_max_lag_seconds(300);
  r.set_parallelism(4);
  return r;
}

}  // namespace agentcom::testing
