// Observability against the running system (issue 6): every /metrics
// endpoint passes `promtool check metrics`; a real Prometheus scrapes the
// shipped scrape config (ports rewritten) and sees fragmentation for all nine
// tables and the recovery metrics, and agentcom_recoveries_total{trigger="auto"}
// rises after an induced corruption; the Grafana dashboard references only
// metrics the processes export.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/client_context.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/supervised_system.h"
#include "tests/support/test_support.h"

namespace agentcom::testing {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

int PortOf(const std::string& address) { return std::stoi(address.substr(address.rfind(':') + 1)); }

class PrometheusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    system_ = SupervisedSystem::Start(dir_.path());
    ASSERT_NE(system_, nullptr);
    const auto& t = system_->topology();
    endpoints_ = {{"maintenance", PortOf(t.maintenance().metrics_address())},
                  {"gateway", PortOf(t.gateway().metrics_address())}};
    for (const auto& s : t.stores()) endpoints_[s.name()] = PortOf(s.metrics_address());
  }
  void TearDown() override {
    if (prometheus_ > 0) {
      kill(prometheus_, SIGTERM);
      int status;
      waitpid(prometheus_, &status, 0);
    }
  }
  // The shipped scrape config with the shipped ports replaced by this system's.
  void StartPrometheus() {
    auto shipped = config::LoadTopology(std::string(AGENTCOM_SOURCE_DIR) + "/deploy/agentcom.yaml");
    ASSERT_TRUE(shipped.ok());
    std::string yml = Slurp(std::string(AGENTCOM_SOURCE_DIR) + "/deploy/prometheus/prometheus.yml");
    const auto& t = system_->topology();
    std::vector<std::pair<std::string, std::string>> rewrites = {
        {shipped->maintenance().metrics_address(), t.maintenance().metrics_address()},
        {shipped->gateway().metrics_address(), t.gateway().metrics_address()},
        {"scrape_interval: 15s", "scrape_interval: 1s"},
        {"evaluation_interval: 15s", "evaluation_interval: 1s"}};
    for (const auto& s : shipped->stores()) {
      rewrites.emplace_back(s.metrics_address(), (*config::FindStore(t, s.name()))->metrics_address());
    }
    for (const auto& [from, to] : rewrites) {
      ASSERT_NE(yml.find(from), std::string::npos) << from;
      yml = absl::StrReplaceAll(yml, {{from, to}});
    }
    const std::string dir = dir_.Sub("prometheus");
    RunCommand(absl::StrCat("mkdir -p ", dir, " && cp ", AGENTCOM_SOURCE_DIR,
                            "/deploy/prometheus/alerts.yml ", dir));
    std::ofstream(dir + "/prometheus.yml") << yml;
    prom_port_ = FreePort();
    prometheus_ = fork();
    if (prometheus_ == 0) {
      const std::string log = dir + "/prometheus.log";
      freopen(log.c_str(), "w", stdout);
      freopen(log.c_str(), "w", stderr);
      execlp("prometheus", "prometheus", ("--config.file=" + dir + "/prometheus.yml").c_str(),
             ("--storage.tsdb.path=" + dir + "/data").c_str(),
             ("--web.listen-address=127.0.0.1:" + std::to_string(prom_port_)).c_str(), nullptr);
      _exit(127);
    }
  }
  // The value of a scalar-like PromQL query, or -1 when it has no result.
  double Query(const std::string& promql) {
    std::string encoded;
    for (unsigned char c : promql) {
      if (isalnum(c) || c == '_' || c == '-' || c == '.') {
        encoded.push_back(static_cast<char>(c));
      } else {
        encoded += absl::StrCat("%", absl::Hex(c, absl::kZeroPad2));
      }
    }
    const std::string body = HttpGet(prom_port_, "/api/v1/query?query=" + encoded);
    google::protobuf::Struct s;
    if (!google::protobuf::util::JsonStringToMessage(body, &s).ok()) return -1;
    const auto& result = s.fields().at("data").struct_value().fields().at("result").list_value();
    if (result.values_size() == 0) return -1;
    return std::stod(result.values(0).struct_value().fields().at("value").list_value().values(1).string_value());
  }
  bool WaitFor(const std::string& promql, double at_least, absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      if (Query(promql) >= at_least) return true;
      absl::SleepFor(absl::Milliseconds(500));
    }
    return false;
  }

  TempDir dir_;
  std::unique_ptr<SupervisedSystem> system_;
  std::map<std::string, int> endpoints_;
  pid_t prometheus_ = -1;
  int prom_port_ = 0;
};

TEST_F(PrometheusTest, EveryMetricsEndpointPassesPromtool) {
  ASSERT_EQ(endpoints_.size(), 8u);
  for (const auto& [name, port] : endpoints_) {
    const std::string text = HttpGet(port, "/metrics");
    ASSERT_THAT(text, ::testing::HasSubstr("# TYPE")) << name;
    const std::string file = dir_.Sub(name + ".prom");
    std::ofstream(file) << text;
    int status = -1;
    const std::string out = RunCommand(absl::StrCat("promtool check metrics < ", file, " 2>&1"), &status);
    EXPECT_EQ(status, 0) << name << ": " << out;
    EXPECT_EQ(out, "") << name << ": " << out;
  }
}

TEST_F(PrometheusTest, GrafanaReferencesOnlyExportedMetrics) {
  std::set<std::string> exported;
  const std::regex name_re(R"(^(agentcom_[a-z0-9_]+?)(_bucket|_sum|_count)?(\{| ))");
  for (const auto& [name, port] : endpoints_) {
    std::istringstream lines(HttpGet(port, "/metrics"));
    std::string line;
    std::smatch m;
    while (std::getline(lines, line)) {
      if (std::regex_search(line, m, name_re)) {
        exported.insert(m[1]);
        exported.insert(m[1].str() + m[2].str());
      }
    }
  }
  // Backup timestamps appear after the first backup.
  exported.insert("agentcom_backup_last_success_timestamp_seconds");
  const std::string json = Slurp(std::string(AGENTCOM_SOURCE_DIR) + "/deploy/grafana/dashboards/agentcom.json");
  google::protobuf::Struct dashboard;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &dashboard).ok()) << "not valid JSON";
  const std::regex used_re(R"(agentcom_[a-z0-9_]+)");
  int checked = 0;
  for (std::sregex_iterator it(json.begin(), json.end(), used_re), end; it != end; ++it) {
    const std::string metric = it->str();
    if (metric == "agentcom_storage" || metric.rfind("agentcom-", 0) == 0) continue;
    EXPECT_TRUE(exported.count(metric)) << metric << " is not exported by any process";
    ++checked;
  }
  EXPECT_GT(checked, 10);
}

TEST_F(PrometheusTest, ARealPrometheusScrapesEveryProcessAndSeesARecovery) {
  StartPrometheus();
  ASSERT_TRUE(WaitFor("count(agentcom_table_fragmentation_ratio)", 9, absl::Seconds(60)))
      << Slurp(dir_.Sub("prometheus/prometheus.log"));
  EXPECT_EQ(Query("count(agentcom_table_fragmentation_ratio)"), 9);
  // Targets are scraped at different offsets within the interval: the
  // stores' series can be in before maintenance's first scrape.
  EXPECT_TRUE(WaitFor("count(up{job=~\"agentcom-.*\"} == 1)", 8, absl::Seconds(60)));
  EXPECT_GT(Query("count(agentcom_recoveries_total)"), 0);
  EXPECT_EQ(Query("sum(agentcom_recoveries_total{trigger=\"auto\"})"), 0);

  // Induce a corruption that maintenance restores automatically.
  system_->EnqueueMessages(3000);
  ASSERT_FALSE(system_->CompactAndBackUpMailbox().empty());
  EXPECT_EQ(system_->CorruptMailboxAndRead().error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(WaitFor("sum(agentcom_recoveries_total{trigger=\"auto\",result=\"restored\"})", 1,
                      absl::Seconds(90)));
  EXPECT_GE(Query("time() - max(agentcom_backup_last_success_timestamp_seconds)"), 0);
}

}  // namespace
}  // namespace agentcom::testing
