#ifndef AGENTCOM_SERVICES_MAINTENANCE_SUPERVISOR_H_
#define AGENTCOM_SERVICES_MAINTENANCE_SUPERVISOR_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace agentcom::maintenance {

// supervisord's process states (and the same idea for other backends).
enum class ProcessState {
  kStopped,
  kStarting,
  kRunning,
  kBackoff,
  kStopping,
  kExited,
  kFatal,
  kUnknown
};

const char* ProcessStateName(ProcessState state);

// Stops and starts the store processes. The restore logic talks only to
// this, so backends other than supervisord (systemd, Kubernetes) can be
// added without touching it. Implementations are thread-safe and bound
// every call by a timeout.
class ProcessSupervisor {
 public:
  virtual ~ProcessSupervisor() = default;
  // Stops the process and waits until it has exited. Stopping a process
  // that is not running is OK.
  virtual absl::Status Stop(const std::string& name) = 0;
  // Asks the supervisor to start the process and returns once it has been
  // spawned, without waiting for the supervisor's own start grace period
  // (callers wait for the process's health check and watch GetState for
  // BACKOFF/FATAL). Starting a running process is OK. A process that cannot
  // be spawned is FAILED_PRECONDITION naming its state.
  virtual absl::Status Start(const std::string& name) = 0;
  virtual absl::StatusOr<ProcessState> GetState(const std::string& name) = 0;
};

}  // namespace agentcom::maintenance

#endif  // AGENTCOM_SERVICES_MAINTENANCE_SUPERVISOR_H_
