#ifndef AGENTCOM_SERVICES_MAINTENANCE_SUPERVISORD_CLIENT_H_
#define AGENTCOM_SERVICES_MAINTENANCE_SUPERVISORD_CLIENT_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock/clock.h"
#include "services/maintenance/supervisor.h"

namespace agentcom::maintenance {

// A decoded XML-RPC value (the subset supervisord sends).
struct XmlRpcValue {
  enum class Kind { kScalar, kStruct, kArray };
  Kind kind = Kind::kScalar;
  std::string scalar;
  std::map<std::string, XmlRpcValue> members;
  std::vector<XmlRpcValue> items;
};

// Parses a <methodResponse>. A <fault> becomes an error status whose
// message is "faultString (code N)"; `fault_code` receives N.
absl::StatusOr<XmlRpcValue> ParseXmlRpcResponse(const std::string& xml, int* fault_code);

// Builds a <methodCall> with string and boolean parameters.
std::string BuildXmlRpcCall(const std::string& method, const std::vector<std::string>& strings,
                            const std::vector<bool>& booleans);

// ProcessSupervisor over supervisord's XML-RPC API
// (supervisor.stopProcess, supervisor.startProcess, supervisor.getProcessInfo)
// at http://<address>/RPC2 with HTTP basic auth, via libcurl and tinyxml2.
// Thread-safe (each call uses its own connection).
class SupervisordClient final : public ProcessSupervisor {
 public:
  // `clock` paces Stop's polling and bounds its wait; each HTTP call is
  // bounded by `timeout` of real time (libcurl's).
  SupervisordClient(std::string address, std::string username, std::string password,
                    Clock* clock = Clock::Real(), absl::Duration timeout = absl::Seconds(10));

  absl::Status Stop(const std::string& name) override;
  absl::Status Start(const std::string& name) override;
  absl::StatusOr<ProcessState> GetState(const std::string& name) override;

 private:
  absl::StatusOr<XmlRpcValue> Call(const std::string& body, int* fault_code);

  const std::string url_;
  const std::string userpwd_;
  Clock* const clock_;
  const absl::Duration timeout_;
};

}  // namespace agentcom::maintenance

#endif  // AGENTCOM_SERVICES_MAINTENANCE_SUPERVISORD_CLIENT_H_
