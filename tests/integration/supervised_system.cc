#include "tests/integration/supervised_system.h"

#include <fcntl.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agentcom/mailbox/v1/mailbox.grpc.pb.h"
#include "agentcom/maintenance/v1/maintenance.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/support/test_support.h"

namespace agentcom::testing {

std::unique_ptr<SupervisedSystem> SupervisedSystem::Start(const std::string& root,
                                                          const Options& options) {
  auto shipped = config::LoadTopology(std::string(AGENTCOM_SOURCE_DIR) + "/deploy/agentcom.yaml");
  EXPECT_TRUE(shipped.ok()) << shipped.status();
  if (!shipped.ok()) return nullptr;
  config::Topology t = *shipped;
  auto port = [] { return absl::StrCat("127.0.0.1:", FreePort()); };
  t.set_data_dir(root + "/data");
  t.set_backup_dir(root + "/backups");
  t.set_state_dir(root + "/state");
  t.mutable_tokens()->set_agent_token_file(root + "/tokens/agent.token");
  t.mutable_tokens()->set_admin_token_file(root + "/tokens/admin.token");
  t.mutable_supervisor()->set_password_file(root + "/tokens/supervisor.password");
  t.mutable_supervisor()->set_address(port());
  t.mutable_maintenance()->set_address(port());
  t.mutable_maintenance()->set_metrics_address(port());
  t.mutable_gateway()->set_address(port());
  t.mutable_gateway()->set_metrics_address(port());
  for (auto& store : *t.mutable_stores()) {
    store.set_address(port());
    store.set_metrics_address(port());
  }
  if (options.customize) options.customize(&t);
  // JSON is YAML, so the rewritten topology is written as JSON.
  std::string json;
  google::protobuf::util::JsonPrintOptions print;
  print.preserve_proto_field_names = true;
  print.add_whitespace = true;
  EXPECT_TRUE(google::protobuf::util::MessageToJsonString(t, &json, print).ok());

  auto system = std::unique_ptr<SupervisedSystem>(new SupervisedSystem());
  system->root_ = root;
  system->config_path_ = root + "/agentcom.yaml";
  system->conf_path_ = root + "/supervisord.conf";
  std::ofstream(system->config_path_) << json;
  auto loaded = config::LoadTopology(system->config_path_);
  EXPECT_TRUE(loaded.ok()) << loaded.status();
  if (!loaded.ok()) return nullptr;
  system->topology_ = *loaded;

  // The same steps as deploy/run.sh.
  const std::string bin = AGENTCOM_BIN_DIR;
  int status = 0;
  RunCommand(absl::StrCat("mkdir -p ", root, "/logs && ", bin,
                          "/agentcomctl init --config=", system->config_path_),
             &status);
  EXPECT_EQ(status, 0) << "agentcomctl init failed";
  RunCommand(absl::StrCat(bin, "/agentcomctl supervisord-conf --config=", system->config_path_,
                          " --bin-dir=", bin, " --run-dir=", root, " --static-dir=",
                          AGENTCOM_SOURCE_DIR, "/services/gateway/static > ", system->conf_path_),
             &status);
  EXPECT_EQ(status, 0) << "agentcomctl supervisord-conf failed";
  if (status != 0) return nullptr;
  if (!options.environment.empty()) {
    std::string conf = ReadFile(system->conf_path_);
    for (const auto& [program, env] : options.environment) {
      const std::string header = absl::StrCat("[program:", program, "]\n");
      const size_t at = conf.find(header);
      EXPECT_NE(at, std::string::npos) << "no program " << program;
      if (at == std::string::npos) return nullptr;
      conf.insert(at + header.size(), absl::StrCat("environment=", env, "\n"));
    }
    std::ofstream(system->conf_path_) << conf;
  }

  system->LaunchSupervisord();
  if (!system->WaitServing(absl::Seconds(60))) {
    ADD_FAILURE() << "stores did not become SERVING:\n"
                  << system->Supervisorctl("status") << "\n"
                  << RunCommand(absl::StrCat("tail -n 20 ", root, "/logs/*.log ", root,
                                             "/supervisord.out"));
    return nullptr;
  }
  return system;
}

void SupervisedSystem::LaunchSupervisord() {
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open((root_ + "/supervisord.out").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    execlp("supervisord", "supervisord", "-n", "-c", conf_path_.c_str(), nullptr);
    _exit(127);
  }
  supervisord_ = pid;
}

void SupervisedSystem::StopSupervisord() {
  if (supervisord_ <= 0) return;
  kill(supervisord_, SIGTERM);
  int status;
  waitpid(supervisord_, &status, 0);
  supervisord_ = -1;
}

void SupervisedSystem::RestartSupervisord() {
  StopSupervisord();
  LaunchSupervisord();
}

SupervisedSystem::~SupervisedSystem() { StopSupervisord(); }

std::string SupervisedSystem::agent_token() const {
  return ReadFile(topology_.tokens().agent_token_file());
}

std::string SupervisedSystem::admin_token() const {
  return ReadFile(topology_.tokens().admin_token_file());
}

std::shared_ptr<grpc::Channel> SupervisedSystem::Channel(const std::string& store) const {
  return grpc::CreateChannel((*config::FindStore(topology_, store))->address(),
                             grpc::InsecureChannelCredentials());
}

int SupervisedSystem::MetricsPort(const std::string& store) const {
  const std::string& address = (*config::FindStore(topology_, store))->metrics_address();
  int port = 0;
  (void)absl::SimpleAtoi(address.substr(address.rfind(':') + 1), &port);
  return port;
}

std::shared_ptr<grpc::Channel> SupervisedSystem::MaintenanceChannel() const {
  return grpc::CreateChannel(topology_.maintenance().address(), grpc::InsecureChannelCredentials());
}

int SupervisedSystem::MaintenanceMetricsPort() const {
  const std::string& address = topology_.maintenance().metrics_address();
  int port = 0;
  (void)absl::SimpleAtoi(address.substr(address.rfind(':') + 1), &port);
  return port;
}

bool SupervisedSystem::WaitServing(absl::Duration timeout) const {
  const absl::Time deadline = absl::Now() + timeout;
  std::vector<std::string> addresses = {topology_.maintenance().address()};
  for (const auto& store : topology_.stores()) addresses.push_back(store.address());
  for (const auto& address : addresses) {
    auto health = grpc::health::v1::Health::NewStub(
        grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
    while (true) {
      grpc::ClientContext ctx;
      ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
      grpc::health::v1::HealthCheckResponse r;
      if (health->Check(&ctx, grpc::health::v1::HealthCheckRequest(), &r).ok() &&
          r.status() == grpc::health::v1::HealthCheckResponse::SERVING) {
        break;
      }
      if (absl::Now() > deadline) return false;
      absl::SleepFor(absl::Milliseconds(100));
    }
  }
  return true;
}

void SupervisedSystem::EnqueueMessages(int n) const {
  auto mailbox = mailbox::v1::Mailbox::NewStub(Channel("mailbox"));
  for (int i = 0; i < n; ++i) {
    grpc::ClientContext ctx;
    Authorize(&ctx, agent_token());
    mailbox::v1::EnqueueRequest r;
    r.set_agent_id("alice");
    r.mutable_message()->set_body(std::string(200, static_cast<char>('a' + i % 26)));
    mailbox::v1::EnqueueResponse out;
    ASSERT_TRUE(mailbox->Enqueue(&ctx, r, &out).ok());
  }
}

std::string SupervisedSystem::CompactAndBackUpMailbox() const {
  auto maintenance = maintenance::v1::Maintenance::NewStub(MaintenanceChannel());
  grpc::ClientContext c1;
  Authorize(&c1, admin_token());
  maintenance::v1::CompactTableRequest compact;
  compact.set_table("agent_mailbox");
  maintenance::v1::CompactionRun run;
  EXPECT_TRUE(maintenance->CompactTable(&c1, compact, &run).ok());
  grpc::ClientContext c2;
  Authorize(&c2, admin_token());
  maintenance::v1::BackupTableRequest backup;
  backup.set_table("agent_mailbox");
  maintenance::v1::BackupRun result;
  grpc::Status s = maintenance->BackupTable(&c2, backup, &result);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(result.succeeded(), 1u);
  return result.results_size() ? result.results(0).backup_id() : "";
}

grpc::Status SupervisedSystem::CorruptMailboxAndRead() const {
  FlipBytesInLargestTableFile(topology_.data_dir() + "/agent_mailbox");
  auto mailbox = mailbox::v1::Mailbox::NewStub(Channel("mailbox"));
  uint64_t after = 0;
  while (true) {
    grpc::ClientContext ctx;
    Authorize(&ctx, agent_token());
    mailbox::v1::PollRequest r;
    r.set_agent_id("alice");
    r.set_after_seq(after);
    r.set_max_messages(1000);
    mailbox::v1::PollResponse page;
    grpc::Status s = mailbox->Poll(&ctx, r, &page);
    if (!s.ok() || !page.has_more()) return s;
    after = page.messages(page.messages_size() - 1).seq();
  }
}

std::string SupervisedSystem::Supervisorctl(const std::string& args) const {
  return RunCommand(absl::StrCat("supervisorctl -c ", conf_path_, " ", args, " 2>&1"));
}

pid_t SupervisedSystem::ProgramPid(const std::string& program) const {
  int pid = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(Supervisorctl("pid " + program)), &pid))
    return 0;
  return pid;
}

bool SupervisedSystem::WaitRunning(const std::string& program, absl::Duration timeout) const {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (absl::StrContains(Supervisorctl("status " + program), "RUNNING")) return true;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return false;
}

}  // namespace agentcom::testing
