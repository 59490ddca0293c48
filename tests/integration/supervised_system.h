#ifndef AGENTCOM_TESTS_INTEGRATION_SUPERVISED_SYSTEM_H_
#define AGENTCOM_TESTS_INTEGRATION_SUPERVISED_SYSTEM_H_

#include <grpcpp/channel.h>
#include <grpcpp/support/status.h>
#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "common/config/topology.h"
#include "tests/support/test_support.h"

namespace agentcom::testing {

// The storage plane as deploy/run.sh starts it, on free loopback ports under
// a temporary root: the shipped deploy/agentcom.yaml with its ports and
// directories rewritten, `agentcomctl init`, `agentcomctl supervisord-conf`,
// and a real `supervisord -n` running the real binaries.
class SupervisedSystem {
 public:
  // Changes to the topology before it is written, and environment variables
  // for programs (program name -> "K=V" list in supervisord's syntax).
  struct Options {
    std::function<void(config::Topology*)> customize;
    std::map<std::string, std::string> environment;
  };
  // Fails the current test (and returns nullptr) when anything does not start.
  static std::unique_ptr<SupervisedSystem> Start(const std::string& root,
                                                 const Options& options = {});
  // Stops supervisord (SIGTERM) and waits for it and its programs.
  ~SupervisedSystem();

  const config::Topology& topology() const { return topology_; }
  const std::string& config_path() const { return config_path_; }
  const std::string& supervisord_conf() const { return conf_path_; }
  std::string agent_token() const;
  std::string admin_token() const;
  std::shared_ptr<grpc::Channel> Channel(const std::string& store) const;
  int MetricsPort(const std::string& store) const;
  std::shared_ptr<grpc::Channel> MaintenanceChannel() const;
  int MaintenanceMetricsPort() const;

  // Waits until every store answers its health check with SERVING.
  bool WaitServing(absl::Duration timeout) const;
  // Output of `supervisorctl -c <conf> <args>`.
  std::string Supervisorctl(const std::string& args) const;
  // supervisord's pid, and a program's pid (0 when it is not running).
  pid_t supervisord_pid() const { return supervisord_; }
  pid_t ProgramPid(const std::string& program) const;
  // Waits until supervisord reports `program` RUNNING.
  bool WaitRunning(const std::string& program, absl::Duration timeout) const;
  // Stops supervisord and every program (SIGTERM, as a host shutdown
  // would), then starts it again from the same configuration. Returns once
  // it is started, not once the programs serve.
  void RestartSupervisord();

  // Scenario steps shared by the recovery, dashboard and Prometheus tests.
  // Enqueues `n` messages of 200 bytes for agent "alice".
  void EnqueueMessages(int n) const;
  // Compacts agent_mailbox (moving its records into table files, where bytes
  // get flipped) and backs it up through maintenance; returns the backup id.
  std::string CompactAndBackUpMailbox() const;
  // Flips bytes in the live agent_mailbox and reads alice's inbox page by
  // page; returns the first read's error (OK if nothing failed).
  grpc::Status CorruptMailboxAndRead() const;

 private:
  SupervisedSystem() = default;
  void LaunchSupervisord();
  void StopSupervisord();
  config::Topology topology_;
  std::string root_;
  std::string config_path_;
  std::string conf_path_;
  pid_t supervisord_ = -1;
};

}  // namespace agentcom::testing

#endif  // AGENTCOM_TESTS_INTEGRATION_SUPERVISED_SYSTEM_H_
