// agentcom_bench: throughput, latency, compaction stall, backup under load,
// restore time, verify rate and memory of the real processes under a real
// supervisord, each next to a baseline measured in the same run (raw LevelDB
// in-process, dd, cp -r). Prints a table and writes JSON. See BENCHMARKS.md.
//
//   agentcom_bench [--clients=16] [--ops=2000] [--reps=3] [--table_records=200000]
//                  [--out=bench.json] [--smoke] [--data_path_only]
#include <google/protobuf/util/json_util.h>
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <leveldb/db.h>
#include <leveldb/write_batch.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <boost/beast/websocket.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "agentcom/config/v1/config.grpc.pb.h"
#include "agentcom/mailbox/v1/mailbox.grpc.pb.h"
#include "agentcom/maintenance/v1/maintenance.grpc.pb.h"
#include "agentcom/store_admin/v1/store_admin.grpc.pb.h"
#include "agentcom/task_queue/v1/task_queue.grpc.pb.h"
#include "common/client/agent_channel.h"
#include "tests/integration/supervised_system.h"
#include "tests/support/test_support.h"

ABSL_FLAG(int, clients, 16, "Concurrent gRPC clients.");
ABSL_FLAG(int, ops, 2000, "Operations per client per data-path measurement.");
ABSL_FLAG(int, reps, 3, "Repetitions; medians are reported.");
ABSL_FLAG(int, table_records, 200000, "Records of the table used for stall/backup/restore/verify.");
ABSL_FLAG(std::string, out, "bench.json", "JSON results file.");
ABSL_FLAG(bool, smoke, false, "Tiny sizes, one repetition: proves the bench runs.");
ABSL_FLAG(bool, data_path_only, false, "Run section 1 (the data path) only, then stop.");
ABSL_FLAG(bool, stall_only, false,
          "Load the table and run section 2 (the compaction stall) only, then stop.");
ABSL_FLAG(int, ws_clients, 500, "WebSocket clients for the dashboard fan-out measurement.");
ABSL_FLAG(bool, watchers_only, false,
          "Measure push latency and the store's memory with 1,000 watching agents (section 9) "
          "only.");
ABSL_FLAG(int, watchers, 1000, "Watching agents for section 9 (waiting ones for 9b).");
ABSL_FLAG(bool, waiting_assigns_only, false,
          "Measure Submit to a waiting Assign with --watchers agents waiting (section 9b) only.");
ABSL_FLAG(bool, outage_only, false,
          "Measure the outage agents see during automatic restores (section 8) only.");

namespace agentcom::bench {
namespace {

using testing::Authorize;
namespace fs = std::filesystem;

struct Stats {
  double ops_per_sec = 0, p50_ms = 0, p99_ms = 0, max_ms = 0;
  // CPU time (user + system) the serving store spent per operation; 0 when
  // not measured.
  double server_cpu_us = 0;
};

Stats Summarise(std::vector<double> latencies_ms, double seconds) {
  Stats s;
  if (latencies_ms.empty()) return s;
  std::sort(latencies_ms.begin(), latencies_ms.end());
  auto at = [&](double q) {
    return latencies_ms[std::min(latencies_ms.size() - 1, size_t(q * latencies_ms.size()))];
  };
  s.ops_per_sec = latencies_ms.size() / seconds;
  s.p50_ms = at(0.50);
  s.p99_ms = at(0.99);
  s.max_ms = latencies_ms.back();
  return s;
}

// The p-quantile (0..1) of sorted `v`; -1 when empty.
double Percentile(const std::vector<double>& v, double p) {
  return v.empty() ? -1.0 : v[std::min(v.size() - 1, static_cast<size_t>(v.size() * p))];
}

// Runs `op(client, i)` ops times on each of `clients` threads; returns stats.
Stats RunClients(int clients, int ops, const std::function<bool(int, int)>& op) {
  std::vector<std::vector<double>> lat(clients);
  std::atomic<int> failures{0};
  const absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      lat[c].reserve(ops);
      for (int i = 0; i < ops; ++i) {
        const absl::Time t = absl::Now();
        if (!op(c, i)) ++failures;
        lat[c].push_back(absl::ToDoubleMilliseconds(absl::Now() - t));
      }
    });
  }
  for (auto& t : threads) t.join();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  std::vector<double> all;
  for (auto& l : lat) all.insert(all.end(), l.begin(), l.end());
  if (failures > 0) std::cerr << "warning: " << failures << " failed operations\n";
  return Summarise(std::move(all), seconds);
}

// Runs `op` on `clients` threads until `stop`; returns latencies.
std::vector<double> Background(int clients, std::atomic<bool>* stop,
                               const std::function<void(int, int)>& op, absl::Time* started) {
  std::vector<std::vector<double>> lat(clients);
  std::vector<std::thread> threads;
  *started = absl::Now();
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      for (int i = 0; !*stop; ++i) {
        const absl::Time t = absl::Now();
        op(c, i);
        lat[c].push_back(absl::ToDoubleMilliseconds(absl::Now() - t));
      }
    });
  }
  for (auto& t : threads) t.join();
  std::vector<double> all;
  for (auto& l : lat) all.insert(all.end(), l.begin(), l.end());
  return all;
}

// Push delivery: one Mailbox.Watch per client's agent while that client
// enqueues `ops` messages to it, each carrying its send time. Returns the
// latency from the start of the Enqueue call to the message's arrival on
// the stream (so it includes the Enqueue's own latency).
Stats PushDelivery(mailbox::v1::Mailbox::Stub* mailbox, const std::string& token, int clients,
                   int ops, const std::string& prefix) {
  std::vector<std::vector<double>> lat(clients);
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::thread> watchers;
  std::atomic<int> open{0};
  for (int c = 0; c < clients; ++c) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    Authorize(contexts.back().get(), token);
    watchers.emplace_back([&, c, ctx = contexts.back().get()] {
      mailbox::v1::WatchRequest w;
      w.set_agent_id(absl::StrCat(prefix, "push", c));
      auto reader = mailbox->Watch(ctx, w);
      ++open;
      mailbox::v1::WatchResponse page;
      while (static_cast<int>(lat[c].size()) < ops && reader->Read(&page)) {
        const int64_t now = absl::GetCurrentTimeNanos();
        for (const auto& m : page.messages()) {
          int64_t sent = 0;
          (void)absl::SimpleAtoi(m.body().substr(0, m.body().find(' ')), &sent);
          lat[c].push_back((now - sent) / 1e6);
        }
      }
      ctx->TryCancel();
      (void)reader->Finish();
    });
  }
  while (open < clients) absl::SleepFor(absl::Milliseconds(1));
  absl::SleepFor(absl::Milliseconds(200));  // the streams are registered
  const absl::Time start = absl::Now();
  RunClients(clients, ops, [&](int c, int) {
    grpc::ClientContext ctx;
    Authorize(&ctx, token);
    mailbox::v1::EnqueueRequest q;
    q.set_agent_id(absl::StrCat(prefix, "push", c));
    q.mutable_message()->set_body(
        absl::StrCat(absl::GetCurrentTimeNanos(), " ", std::string(180, 'm')));
    mailbox::v1::EnqueueResponse out;
    return mailbox->Enqueue(&ctx, q, &out).ok();
  });
  for (auto& t : watchers) t.join();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  std::vector<double> all;
  for (auto& l : lat) all.insert(all.end(), l.begin(), l.end());
  return Summarise(std::move(all), seconds);
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

Stats MedianStats(const std::vector<Stats>& runs) {
  std::vector<double> a, b, c, d, e;
  for (const auto& r : runs) {
    a.push_back(r.ops_per_sec);
    b.push_back(r.p50_ms);
    c.push_back(r.p99_ms);
    d.push_back(r.max_ms);
    e.push_back(r.server_cpu_us);
  }
  return {Median(a), Median(b), Median(c), Median(d), Median(e)};
}

// CPU seconds (user + system) the process has used so far.
double CpuSeconds(const std::string& pid) {
  std::ifstream in("/proc/" + pid + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Fields after the command name (which may hold spaces) start at ") ".
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::vector<std::string> fields = absl::StrSplit(stat.substr(close + 2), ' ');
  // utime and stime are fields 14 and 15 of the whole line: 11 and 12 here.
  long utime = 0, stime = 0;
  if (fields.size() < 13 || !absl::SimpleAtoi(fields[11], &utime) ||
      !absl::SimpleAtoi(fields[12], &stime)) {
    return 0;
  }
  return static_cast<double>(utime + stime) / sysconf(_SC_CLK_TCK);
}

// In-process LevelDB, sync writes like the stores' default: the baseline.
Stats RawLevelDb(const std::string& dir, int clients, int ops, bool batch) {
  fs::remove_all(dir);
  leveldb::Options o;
  o.create_if_missing = true;
  o.compression = leveldb::kNoCompression;
  leveldb::DB* raw = nullptr;
  leveldb::DB::Open(o, dir, &raw);
  std::unique_ptr<leveldb::DB> db(raw);
  leveldb::WriteOptions sync;
  sync.sync = true;
  const std::string value(200, 'v');
  // The bench process is otherwise idle meanwhile: its CPU is LevelDB's.
  const std::string self = std::to_string(getpid());
  const double before = CpuSeconds(self);
  Stats s = RunClients(clients, ops, [&](int c, int i) {
    const std::string key = absl::StrFormat("c%03d-%09d", c, i);
    if (!batch) return db->Put(sync, key, value).ok();
    leveldb::WriteBatch b;  // the shape of a store write: record + index
    b.Put(key, value);
    b.Put("i" + key, "");
    return db->Write(sync, &b).ok();
  });
  s.server_cpu_us = (CpuSeconds(self) - before) * 1e6 / (static_cast<double>(clients) * ops);
  return s;
}

long RssKb(const std::string& pid, const char* field) {
  std::ifstream in("/proc/" + pid + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) return std::stol(line.substr(std::string(field).size()));
  }
  return -1;
}

std::string Pid(testing::SupervisedSystem& sys, const std::string& process) {
  std::string pid = sys.Supervisorctl("pid " + process);
  pid.erase(pid.find_last_not_of(" \n") + 1);
  return pid;
}

// RunClients, also measuring the CPU the store `process` spends per operation.
Stats RunServed(testing::SupervisedSystem& sys, const std::string& process, int clients, int ops,
                const std::function<bool(int, int)>& op) {
  const std::string pid = Pid(sys, process);
  const double before = CpuSeconds(pid);
  Stats s = RunClients(clients, ops, op);
  s.server_cpu_us = (CpuSeconds(pid) - before) * 1e6 / (static_cast<double>(clients) * ops);
  return s;
}

// The floor under a store's unary call: `clients` clients calling
// Config.Get on agentcom_grpc_floor (gRPC alone on the `api` "callback" or
// "sync"), with that process's CPU per call.
Stats RunFloor(const std::string& api, int clients, int ops) {
  int out[2];
  if (pipe(out) != 0) return {};
  const std::string binary = std::string(AGENTCOM_BIN_DIR) + "/agentcom_grpc_floor";
  std::string flag = "--api=" + api;
  std::string program = binary;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  char* argv[] = {program.data(), flag.data(), nullptr};
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  std::string port;
  char c;
  while (spawned == 0 && read(out[0], &c, 1) == 1 && c != '\n') port.push_back(c);
  close(out[0]);
  if (spawned != 0 || port.empty()) {
    std::cerr << "agentcom_grpc_floor did not start\n";
    return {};
  }
  auto stub = config::v1::Config::NewStub(
      grpc::CreateChannel("127.0.0.1:" + port, grpc::InsecureChannelCredentials()));
  const std::string pid_text = std::to_string(pid);
  const double before = CpuSeconds(pid_text);
  Stats s = RunClients(clients, ops, [&](int c, int i) {
    grpc::ClientContext ctx;
    config::v1::GetRequest q;
    q.set_key(absl::StrCat("client", c, "/key", i));
    config::v1::Entry entry;
    return stub->Get(&ctx, q, &entry).ok();
  });
  s.server_cpu_us = (CpuSeconds(pid_text) - before) * 1e6 / (static_cast<double>(clients) * ops);
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
  return s;
}

std::map<std::string, std::pair<long, long>> Memory(testing::SupervisedSystem& sys) {
  std::map<std::string, std::pair<long, long>> out;
  std::vector<std::string> names = {"maintenance", "gateway"};
  for (const auto& s : sys.topology().stores()) names.push_back(s.name());
  for (const auto& n : names) {
    const std::string pid = Pid(sys, n);
    out[n] = {RssKb(pid, "VmRSS:"), RssKb(pid, "VmHWM:")};
  }
  return out;
}

struct Json {
  std::string body = "{";
  void Add(const std::string& key, double v) {
    Sep();
    absl::StrAppend(&body, "\"", key, "\":", v);
  }
  void Add(const std::string& key, const Stats& s) {
    Sep();
    absl::StrAppend(&body, "\"", key, "\":{\"ops_per_sec\":", s.ops_per_sec,
                    ",\"p50_ms\":", s.p50_ms, ",\"p99_ms\":", s.p99_ms, ",\"max_ms\":", s.max_ms,
                    ",\"server_cpu_us\":", s.server_cpu_us, "}");
  }
  void Sep() {
    if (body.size() > 1) body += ",";
  }
  std::string Done() { return body + "}"; }
};

void Row(const std::string& name, const Stats& s, const std::string& extra = "") {
  const std::string cpu =
      s.server_cpu_us > 0 ? absl::StrFormat("  server CPU %5.1f us/op", s.server_cpu_us) : "";
  std::cout << absl::StrFormat(
      "%-38s %11.0f ops/s  p50 %7.2f ms  p99 %7.2f ms  max %8.2f ms%s  %s\n", name, s.ops_per_sec,
      s.p50_ms, s.p99_ms, s.max_ms, cpu, extra);
}

// 7. The time from an event's creation (its timestamp in maintenance) to its
// arrival at each of `n` WebSocket clients of the gateway; returns the p99
// in milliseconds of each repetition.
std::vector<double> FanOut(testing::SupervisedSystem& sys, int n, int reps) {
  namespace asio = boost::asio;
  namespace beast = boost::beast;
  namespace websocket = beast::websocket;
  using tcp = asio::ip::tcp;
  const std::string& address = sys.topology().gateway().address();
  const std::string host = address.substr(0, address.rfind(':'));
  const auto port = static_cast<uint16_t>(std::stoi(address.substr(address.rfind(':') + 1)));
  asio::io_context ioc;
  std::vector<std::unique_ptr<websocket::stream<tcp::socket>>> conns;
  for (int i = 0; i < n; ++i) {
    auto ws = std::make_unique<websocket::stream<tcp::socket>>(ioc);
    ws->next_layer().connect(tcp::endpoint(asio::ip::make_address(host), port));
    ws->handshake(host, "/ws");
    ws->write(asio::buffer(
        absl::StrCat("{\"token\":\"", sys.admin_token(), "\",\"after_id\":1000000000}")));
    beast::flat_buffer ready;
    ws->read(ready);  // {"type":"ready"}
    conns.push_back(std::move(ws));
  }
  auto maintenance = maintenance::v1::Maintenance::NewStub(sys.MaintenanceChannel());
  std::vector<double> p99s;
  for (int r = 0; r < reps; ++r) {
    std::vector<beast::flat_buffer> buffers(n);
    std::vector<absl::Time> arrived(n);
    for (int i = 0; i < n; ++i) {
      conns[i]->async_read(buffers[i],
                           [&, i](beast::error_code, size_t) { arrived[i] = absl::Now(); });
    }
    std::thread trigger([&] {
      grpc::ClientContext ctx;
      Authorize(&ctx, sys.admin_token());
      maintenance::v1::CompactTableRequest q;
      q.set_table("agentcom_config");
      maintenance::v1::CompactionRun out;
      maintenance->CompactTable(&ctx, q, &out);
    });
    ioc.restart();
    std::thread second([&] { ioc.run(); });
    ioc.run();
    second.join();
    trigger.join();
    std::vector<double> lat;
    for (int i = 0; i < n; ++i) {
      maintenance::v1::Event e;
      if (!google::protobuf::util::JsonStringToMessage(beast::buffers_to_string(buffers[i].data()),
                                                       &e)
               .ok()) {
        continue;
      }
      const absl::Time created =
          absl::FromUnixSeconds(e.time().seconds()) + absl::Nanoseconds(e.time().nanos());
      lat.push_back(absl::ToDoubleMilliseconds(arrived[i] - created));
    }
    p99s.push_back(Summarise(lat, 1).p99_ms);
  }
  return p99s;
}

// What one polling agent saw.
struct Outage {
  double longest_gap = 0;  // seconds between two successful calls
  int failed = 0;
};

// Polls alice's inbox every 10 ms over `channel` until `stop`.
Outage PollThrough(std::shared_ptr<grpc::Channel> channel, const std::string& token,
                   std::atomic<bool>* stop) {
  auto mailbox = mailbox::v1::Mailbox::NewStub(channel);
  Outage o;
  absl::Time last_ok = absl::InfinitePast();
  while (!*stop) {
    grpc::ClientContext ctx;
    Authorize(&ctx, token);
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    mailbox::v1::PollRequest r;
    r.set_agent_id("alice");
    r.set_max_messages(1);
    mailbox::v1::PollResponse out;
    if (mailbox->Poll(&ctx, r, &out).ok()) {
      const absl::Time now = absl::Now();
      if (last_ok != absl::InfinitePast()) {
        o.longest_gap = std::max(o.longest_gap, absl::ToDoubleSeconds(now - last_ok));
      }
      last_ok = now;
    } else {
      ++o.failed;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  return o;
}

// 8. The outage an agent sees during an automatic restore of its table:
// agents poll every 10 ms, in C++ and in Python, over channels with gRPC's
// default settings and with the recommended ones (common/client); bytes are
// flipped in the mailbox's largest table file and a read detects it. The
// outage is the longest time between two successful calls.
int MeasureOutage(int reps) {
  testing::TempDir dir;
  auto sys = testing::SupervisedSystem::Start(dir.path());
  if (!sys) return 1;
  sys->EnqueueMessages(2000);
  if (sys->CompactAndBackUpMailbox().empty()) return 1;
  const std::string source = AGENTCOM_SOURCE_DIR;
  const std::string stubs = dir.Sub("python");
  const bool python =
      std::system(absl::StrCat(source, "/examples/python/generate.sh ", stubs, " >/dev/null 2>&1")
                      .c_str()) == 0;
  const std::string address = (*config::FindStore(sys->topology(), "mailbox"))->address();
  std::map<std::string, std::vector<double>> gaps;
  std::map<std::string, int> failed;
  for (int rep = 0; rep < reps; ++rep) {
    std::atomic<bool> stop{false};
    Outage cpp_default, cpp_recommended;
    std::thread a([&] {
      cpp_default = PollThrough(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()),
                                sys->agent_token(), &stop);
    });
    std::thread b([&] {
      cpp_recommended = PollThrough(client::AgentChannel(address), sys->agent_token(), &stop);
    });
    std::map<std::string, FILE*> py;
    if (python) {
      for (const char* mode : {"default", "recommended"}) {
        py[mode] = popen(absl::StrCat("PYTHONPATH=", stubs, " /usr/bin/python3 ", source,
                                      "/tests/bench/outage_agent.py ", address, " ",
                                      sys->topology().tokens().agent_token_file(), " alice 12 ",
                                      mode, " ", source, "/examples/agent_service_config.json")
                             .c_str(),
                         "r");
      }
    }
    absl::SleepFor(absl::Seconds(2));
    (void)sys->CorruptMailboxAndRead();
    absl::SleepFor(absl::Seconds(9));
    stop = true;
    a.join();
    b.join();
    gaps["C++, gRPC defaults"].push_back(cpp_default.longest_gap);
    failed["C++, gRPC defaults"] += cpp_default.failed;
    gaps["C++, recommended"].push_back(cpp_recommended.longest_gap);
    failed["C++, recommended"] += cpp_recommended.failed;
    for (auto& [mode, f] : py) {
      char line[512] = {0};
      std::string out;
      while (fgets(line, sizeof(line), f) != nullptr) out += line;
      pclose(f);
      const std::string key = absl::StrCat(
          "Python, ", std::string(mode) == "default" ? "gRPC defaults" : "recommended");
      double gap = -1;
      int fails = 0;
      const size_t g = out.find("\"longest_gap_s\": ");
      const size_t n = out.find("\"failed_calls\": ");
      if (g != std::string::npos && n != std::string::npos) {
        gap = std::atof(out.c_str() + g + 17);
        fails = std::atoi(out.c_str() + n + 17);
      }
      gaps[key].push_back(gap);
      failed[key] += fails;
    }
  }
  std::cout << absl::StrFormat(
      "8. outage an agent sees during an automatic restore, %d restores:\n", reps);
  for (auto& [key, v] : gaps) {
    std::sort(v.begin(), v.end());
    std::cout << absl::StrFormat(
        "   %-22s longest gap between good calls: median %.2f s, max %.2f s;"
        " %d failed calls\n",
        key, v[v.size() / 2], v.back(), failed[key]);
  }
  return 0;
}

// 9. Many watching agents on one store: each agent's Watch stream is an
// asynchronous call on one completion queue (so the client side costs no
// thread per stream). Enqueues go to agents in turn, one at a time; the
// latency is from the start of the Enqueue call to the message arriving on
// its agent's stream (the push often arrives before the writer has its
// answer), next to the Enqueue call's own time. The mailbox process's RSS is read before and with
// the streams open.
int MeasureWatchers(int watchers, int messages) {
  testing::TempDir dir;
  auto sys = testing::SupervisedSystem::Start(dir.path());
  if (!sys) return 1;
  const std::string address = (*config::FindStore(sys->topology(), "mailbox"))->address();
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  auto mailbox = mailbox::v1::Mailbox::NewStub(channel);
  const long rss_before = Memory(*sys)["mailbox"].first;
  struct Stream {
    grpc::ClientContext ctx;
    mailbox::v1::WatchResponse page;
    std::unique_ptr<grpc::ClientAsyncReader<mailbox::v1::WatchResponse>> reader;
  };
  grpc::CompletionQueue cq;
  std::vector<std::unique_ptr<Stream>> streams(watchers);
  for (int i = 0; i < watchers; ++i) {
    streams[i] = std::make_unique<Stream>();
    Authorize(&streams[i]->ctx, sys->agent_token());
    mailbox::v1::WatchRequest r;
    r.set_agent_id(absl::StrCat("watcher-", i));
    streams[i]->reader = mailbox->AsyncWatch(&streams[i]->ctx, r, &cq,
                                             reinterpret_cast<void*>(static_cast<intptr_t>(2 * i)));
  }
  // Tag 2i: the call started; 2i+1: a read completed.
  std::mutex mu;
  std::vector<absl::Time> sent(watchers, absl::InfinitePast());
  std::vector<double> latency_ms;
  std::atomic<int> started{0};
  std::thread reader([&] {
    void* tag;
    bool ok;
    while (cq.Next(&tag, &ok)) {
      const auto t = reinterpret_cast<intptr_t>(tag);
      const int i = static_cast<int>(t / 2);
      if (!ok) continue;  // the stream ended (shutdown)
      if (t % 2 == 1) {
        std::lock_guard<std::mutex> l(mu);
        if (streams[i]->page.messages_size() > 0 && sent[i] != absl::InfinitePast()) {
          latency_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - sent[i]));
        }
      } else {
        ++started;
      }
      streams[i]->reader->Read(&streams[i]->page, reinterpret_cast<void*>(2 * i + 1));
    }
  });
  while (started < watchers) absl::SleepFor(absl::Milliseconds(10));
  absl::SleepFor(absl::Seconds(1));  // every stream past its (empty) replay
  const long rss_open = Memory(*sys)["mailbox"].first;
  std::vector<double> enqueue_ms;
  for (int n = 0; n < messages; ++n) {
    const int i = (n * 7919) % watchers;
    grpc::ClientContext ctx;
    Authorize(&ctx, sys->agent_token());
    mailbox::v1::EnqueueRequest r;
    r.set_agent_id(absl::StrCat("watcher-", i));
    r.mutable_message()->set_body("ping");
    mailbox::v1::EnqueueResponse out;
    const absl::Time start = absl::Now();
    {
      std::lock_guard<std::mutex> l(mu);
      sent[i] = start;
    }
    if (!mailbox->Enqueue(&ctx, r, &out).ok()) return 1;
    enqueue_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
    absl::SleepFor(absl::Milliseconds(5));
  }
  absl::SleepFor(absl::Milliseconds(500));
  for (auto& st : streams) st->ctx.TryCancel();
  std::vector<double> lat;
  {
    std::lock_guard<std::mutex> l(mu);
    lat = latency_ms;
  }
  absl::SleepFor(absl::Milliseconds(500));
  cq.Shutdown();
  reader.join();
  std::sort(lat.begin(), lat.end());
  std::sort(enqueue_ms.begin(), enqueue_ms.end());
  std::cout << absl::StrFormat(
      "9. %d watching agents on one store, %d messages (%zu delivered): from the Enqueue call to "
      "the message on its stream p50 %.2f ms, p99 %.2f ms, max %.2f ms; the Enqueue call itself "
      "p50 %.2f ms, p99 %.2f ms; mailbox RSS %.1f MiB idle, %.1f MiB with the streams open (%.1f "
      "KiB per stream)\n",
      watchers, messages, lat.size(), Percentile(lat, 0.5), Percentile(lat, 0.99),
      lat.empty() ? -1 : lat.back(), Percentile(enqueue_ms, 0.5), Percentile(enqueue_ms, 0.99),
      rss_before / 1024.0, rss_open / 1024.0,
      static_cast<double>(rss_open - rss_before) / watchers);
  return 0;
}

// 9b. The same for work: `waiters` agents each wait in one Assign
// (wait_ms 60 s) on one type, then `tasks` Submits one at a time: from the
// Submit call to the task's Assign answering. Also the task queue's RSS
// with the waiters parked.
int MeasureWaitingAssigns(int waiters, int tasks) {
  testing::TempDir dir;
  auto sys = testing::SupervisedSystem::Start(dir.path());
  if (!sys) return 1;
  const std::string address = (*config::FindStore(sys->topology(), "task_queue"))->address();
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  auto queue = task_queue::v1::TaskQueue::NewStub(channel);
  const long rss_before = Memory(*sys)["task_queue"].first;
  struct Waiter {
    grpc::ClientContext ctx;
    task_queue::v1::Task task;
    grpc::Status status;
    std::unique_ptr<grpc::ClientAsyncResponseReader<task_queue::v1::Task>> call;
  };
  grpc::CompletionQueue cq;
  std::vector<std::unique_ptr<Waiter>> parked(waiters);
  for (int i = 0; i < waiters; ++i) {
    parked[i] = std::make_unique<Waiter>();
    Authorize(&parked[i]->ctx, sys->agent_token());
    task_queue::v1::AssignRequest r;
    r.set_agent_id(absl::StrCat("worker-", i));
    r.add_types("bench");
    r.set_wait_ms(60000);
    parked[i]->call = queue->AsyncAssign(&parked[i]->ctx, r, &cq);
    parked[i]->call->Finish(&parked[i]->task, &parked[i]->status, parked[i].get());
  }
  std::mutex mu;
  std::map<std::string, absl::Time> assigned;  // task id -> when its Assign answered
  std::thread reader([&] {
    void* tag;
    bool ok;
    while (cq.Next(&tag, &ok)) {
      auto* w = static_cast<Waiter*>(tag);
      if (ok && w->status.ok()) {
        std::lock_guard<std::mutex> l(mu);
        assigned[w->task.id()] = absl::Now();
      }
    }
  });
  absl::SleepFor(absl::Seconds(2));  // every Assign parked
  const long rss_parked = Memory(*sys)["task_queue"].first;
  std::map<std::string, absl::Time> submitted;
  std::vector<double> submit_ms;
  for (int n = 0; n < tasks; ++n) {
    grpc::ClientContext ctx;
    Authorize(&ctx, sys->agent_token());
    task_queue::v1::SubmitRequest r;
    r.set_type("bench");
    r.set_payload("work");
    task_queue::v1::SubmitResponse out;
    const absl::Time start = absl::Now();
    if (!queue->Submit(&ctx, r, &out).ok()) return 1;
    submit_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
    submitted[out.id()] = start;
    absl::SleepFor(absl::Milliseconds(5));
  }
  absl::SleepFor(absl::Milliseconds(500));
  for (auto& w : parked) w->ctx.TryCancel();
  std::vector<double> lat;
  {
    std::lock_guard<std::mutex> l(mu);
    for (const auto& [id, at] : assigned) {
      auto it = submitted.find(id);
      if (it != submitted.end()) lat.push_back(absl::ToDoubleMilliseconds(at - it->second));
    }
  }
  absl::SleepFor(absl::Milliseconds(500));
  cq.Shutdown();
  reader.join();
  std::sort(lat.begin(), lat.end());
  std::sort(submit_ms.begin(), submit_ms.end());
  std::cout << absl::StrFormat(
      "9b. %d agents waiting in Assign on one store, %d tasks submitted (%zu assigned): from the "
      "Submit call to the Assign's answer p50 %.2f ms, p99 %.2f ms, max %.2f ms; the Submit call "
      "itself p50 %.2f ms, p99 %.2f ms; task queue RSS %.1f MiB idle, %.1f MiB with the Assigns "
      "waiting\n",
      waiters, tasks, lat.size(), Percentile(lat, 0.5), Percentile(lat, 0.99),
      lat.empty() ? -1 : lat.back(), Percentile(submit_ms, 0.5), Percentile(submit_ms, 0.99),
      rss_before / 1024.0, rss_parked / 1024.0);
  return 0;
}

int Main() {
  if (absl::GetFlag(FLAGS_outage_only)) return MeasureOutage(absl::GetFlag(FLAGS_reps));
  if (absl::GetFlag(FLAGS_watchers_only)) {
    return MeasureWatchers(absl::GetFlag(FLAGS_watchers), absl::GetFlag(FLAGS_ops));
  }
  if (absl::GetFlag(FLAGS_waiting_assigns_only)) {
    return MeasureWaitingAssigns(absl::GetFlag(FLAGS_watchers),
                                 std::min(absl::GetFlag(FLAGS_ops), absl::GetFlag(FLAGS_watchers)));
  }
  const bool smoke = absl::GetFlag(FLAGS_smoke);
  const int clients = smoke ? 2 : absl::GetFlag(FLAGS_clients);
  const int ops = smoke ? 50 : absl::GetFlag(FLAGS_ops);
  const int reps = smoke ? 1 : absl::GetFlag(FLAGS_reps);
  const int records = smoke ? 2000 : absl::GetFlag(FLAGS_table_records);
  testing::TempDir dir;
  auto sys = testing::SupervisedSystem::Start(dir.path());
  if (!sys) return 1;
  const std::string agent = sys->agent_token(), admin = sys->admin_token();
  auto mailbox = mailbox::v1::Mailbox::NewStub(sys->Channel("mailbox"));
  auto tasks = task_queue::v1::TaskQueue::NewStub(sys->Channel("task_queue"));
  auto config = config::v1::Config::NewStub(sys->Channel("config"));
  auto config_admin = store_admin::v1::StoreAdmin::NewStub(sys->Channel("config"));
  auto maintenance = maintenance::v1::Maintenance::NewStub(sys->MaintenanceChannel());
  Json json;
  std::cout << absl::StrFormat(
      "agentcom_bench: %d clients, %d ops/client, %d reps, table %d records, durability sync\n\n",
      clients, ops, reps, records);
  auto idle_memory = Memory(*sys);

  std::map<std::string, std::pair<long, long>> loaded_memory;
  if (!absl::GetFlag(FLAGS_stall_only)) {
    // 1. Data path, with the in-process LevelDB baseline.
    std::vector<Stats> enq, poll, submit, config_put, config_get, assign, raw_put, raw_batch, push,
        floor_callback, floor_sync;
    for (int r = 0; r < reps; ++r) {
      const std::string prefix = absl::StrCat("r", r, "-");
      enq.push_back(RunServed(*sys, "mailbox", clients, ops, [&](int c, int) {
        grpc::ClientContext ctx;
        Authorize(&ctx, agent);
        mailbox::v1::EnqueueRequest q;
        q.set_agent_id(absl::StrCat(prefix, "agent", c));
        q.mutable_message()->set_body(std::string(200, 'm'));
        mailbox::v1::EnqueueResponse out;
        return mailbox->Enqueue(&ctx, q, &out).ok();
      }));
      poll.push_back(RunClients(clients, ops, [&](int c, int i) {
        grpc::ClientContext ctx;
        Authorize(&ctx, agent);
        mailbox::v1::PollRequest q;
        q.set_agent_id(absl::StrCat(prefix, "agent", c));
        q.set_after_seq(i % std::max(1, ops - 10));
        q.set_max_messages(10);
        mailbox::v1::PollResponse out;
        return mailbox->Poll(&ctx, q, &out).ok();
      }));
      submit.push_back(RunServed(*sys, "task_queue", clients, ops, [&](int, int) {
        grpc::ClientContext ctx;
        Authorize(&ctx, agent);
        task_queue::v1::SubmitRequest q;
        q.set_type(prefix + "work");
        q.set_payload(std::string(200, 't'));
        task_queue::v1::SubmitResponse out;
        return tasks->Submit(&ctx, q, &out).ok();
      }));
      config_put.push_back(RunServed(*sys, "config", clients, ops, [&](int c, int i) {
        grpc::ClientContext ctx;
        Authorize(&ctx, agent);
        config::v1::PutRequest q;
        q.set_key(absl::StrCat(prefix, "client", c, "/key", i));
        q.set_value(std::string(200, 'c'));
        config::v1::Entry out;
        return config->Put(&ctx, q, &out).ok();
      }));
      // A read the memtable answers, through the same gRPC, authorisation
      // and metrics as the writes: the store's own floor for a unary call.
      config_get.push_back(RunServed(*sys, "config", clients, ops, [&](int c, int i) {
        grpc::ClientContext ctx;
        Authorize(&ctx, agent);
        config::v1::GetRequest q;
        q.set_key(absl::StrCat(prefix, "client", c, "/key", i));
        config::v1::Entry out;
        return config->Get(&ctx, q, &out).ok();
      }));
      assign.push_back(RunClients(clients, ops, [&](int c, int) {
        grpc::ClientContext ctx;
        Authorize(&ctx, agent);
        task_queue::v1::AssignRequest q;
        q.set_agent_id(absl::StrCat("worker", c));
        q.add_types(prefix + "work");
        task_queue::v1::Task t;
        if (!tasks->Assign(&ctx, q, &t).ok()) return false;
        grpc::ClientContext cctx;
        Authorize(&cctx, agent);
        task_queue::v1::CompleteRequest done;
        done.set_id(t.id());
        done.set_agent_id(absl::StrCat("worker", c));
        return tasks->Complete(&cctx, done, &t).ok();
      }));
      push.push_back(PushDelivery(mailbox.get(), agent, clients, ops, prefix));
      floor_callback.push_back(RunFloor("callback", clients, ops));
      floor_sync.push_back(RunFloor("sync", clients, ops));
      raw_put.push_back(RawLevelDb(dir.Sub("raw"), clients, ops, false));
      raw_batch.push_back(RawLevelDb(dir.Sub("raw"), clients, ops, true));
    }
    const Stats e = MedianStats(enq), p = MedianStats(poll), s = MedianStats(submit),
                a = MedianStats(assign), rp = MedianStats(raw_put), rb = MedianStats(raw_batch),
                w = MedianStats(push), cp = MedianStats(config_put), cg = MedianStats(config_get),
                fc = MedianStats(floor_callback), fs = MedianStats(floor_sync);
    std::cout << "1. data path (median of " << reps << ")\n";
    Row("Mailbox.Enqueue", e, absl::StrFormat("%.2fx raw batch", e.ops_per_sec / rb.ops_per_sec));
    Row("Mailbox.Poll (10 messages)", p);
    Row("TaskQueue.Submit", s, absl::StrFormat("%.2fx raw batch", s.ops_per_sec / rb.ops_per_sec));
    Row("Config.Put", cp, absl::StrFormat("%.2fx raw batch", cp.ops_per_sec / rb.ops_per_sec));
    Row("Config.Get (from memory)", cg);
    Row("TaskQueue.Assign+Complete", a);
    Row("Mailbox.Watch delivery (enqueue start", w,
        absl::StrFormat("to arrival; p50 %.2fx Enqueue's)", w.p50_ms / e.p50_ms));
    Row("gRPC alone: empty Get, callback API", fc);
    Row("gRPC alone: empty Get, sync API", fs);
    Row("raw leveldb Put (sync, in-process)", rp);
    Row("raw leveldb WriteBatch(2) (sync)", rb);
    json.Add("enqueue", e);
    json.Add("poll", p);
    json.Add("submit", s);
    json.Add("config_put", cp);
    json.Add("config_get", cg);
    json.Add("grpc_floor_callback", fc);
    json.Add("grpc_floor_sync", fs);
    json.Add("assign_complete", a);
    json.Add("raw_put", rp);
    json.Add("raw_batch", rb);
    json.Add("watch_delivery", w);
    json.Add("enqueue_vs_raw_batch", e.ops_per_sec / rb.ops_per_sec);
    loaded_memory = Memory(*sys);
    if (absl::GetFlag(FLAGS_data_path_only)) {
      std::ofstream(absl::GetFlag(FLAGS_out)) << json.Done() << "\n";
      return 0;
    }
  }

  // The table for 2-5: config records of ~200 bytes, half overwritten, a
  // quarter deleted (loaded through the Config API).
  auto put = [&](int k, char fill) {
    grpc::ClientContext ctx;
    Authorize(&ctx, agent);
    config::v1::PutRequest q;
    q.set_key(absl::StrFormat("key%09d", k));
    q.set_value(std::string(180, fill));
    config::v1::Entry out;
    return config->Put(&ctx, q, &out).ok();
  };
  const absl::Time load_start = absl::Now();
  const int per = records / clients;
  RunClients(clients, per, [&](int c, int i) { return put(c * per + i, 'a'); });
  RunClients(clients, per / 2, [&](int c, int i) { return put(c * per + 2 * i, 'b'); });
  RunClients(clients, per / 4, [&](int c, int i) {
    grpc::ClientContext ctx;
    Authorize(&ctx, agent);
    config::v1::DeleteRequest q;
    q.set_key(absl::StrFormat("key%09d", c * per + 4 * i + 1));
    config::v1::DeleteResponse out;
    return config->Delete(&ctx, q, &out).ok();
  });
  std::cout << absl::StrFormat("\nloaded %d records (+50%% overwritten, 25%% deleted) in %.1f s\n",
                               records, absl::ToDoubleSeconds(absl::Now() - load_start));

  // 2. Compaction stall: the same mixed load with and without a compaction.
  auto mixed = [&](int c, int i) {
    const int k = (c * 7919 + i * 104729) % records;
    if (i % 2) {
      put(k, 'c');
    } else {
      grpc::ClientContext ctx;
      Authorize(&ctx, agent);
      config::v1::GetRequest q;
      q.set_key(absl::StrFormat("key%09d", k));
      config::v1::Entry out;
      config->Get(&ctx, q, &out);
    }
  };
  auto run_for = [&](absl::Duration d) {
    std::atomic<bool> stop{false};
    absl::Time started;
    std::thread timer([&] {
      absl::SleepFor(d);
      stop = true;
    });
    auto lat = Background(clients, &stop, mixed, &started);
    timer.join();
    return Summarise(lat, absl::ToDoubleSeconds(d));
  };
  store_admin::v1::CompactResponse compact;
  double compact_seconds = 0;
  Stats during;
  {
    std::atomic<bool> stop{false};
    absl::Time started;
    std::vector<double> lat;
    std::thread load([&] { lat = Background(clients, &stop, mixed, &started); });
    grpc::ClientContext ctx;
    Authorize(&ctx, admin);
    store_admin::v1::CompactRequest q;
    q.set_table("agentcom_config");
    const absl::Time t = absl::Now();
    config_admin->Compact(&ctx, q, &compact);
    compact_seconds = absl::ToDoubleSeconds(absl::Now() - t);
    stop = true;
    load.join();
    during = Summarise(lat, compact_seconds);
  }
  const Stats quiet = run_for(absl::Seconds(std::max(1.0, compact_seconds)));
  std::cout << "\n2. compaction stall\n";
  Row("mixed get/put without compaction", quiet);
  Row("mixed get/put during compaction", during,
      absl::StrFormat("p99 %.2fx, max %.2fx", during.p99_ms / quiet.p99_ms,
                      during.max_ms / quiet.max_ms));
  std::cout << absl::StrFormat(
      "   compaction %.2f s, disk %llu -> %llu bytes (fragmentation %.2f -> %.2f)\n",
      compact_seconds, (unsigned long long)compact.before().disk_bytes(),
      (unsigned long long)compact.after().disk_bytes(), compact.before().fragmentation_ratio(),
      compact.after().fragmentation_ratio());
  json.Add("stall_quiet", quiet);
  json.Add("stall_during", during);
  json.Add("compaction_seconds", compact_seconds);
  json.Add("compaction_bytes_reclaimed",
           double(compact.before().disk_bytes()) - compact.after().disk_bytes());
  if (absl::GetFlag(FLAGS_stall_only)) {
    std::ofstream(absl::GetFlag(FLAGS_out)) << json.Done() << "\n";
    return 0;
  }

  // 3. Backup under load vs dd of the same size.
  maintenance::v1::BackupRun backup;
  double backup_seconds = 0;
  Stats backup_load;
  {
    std::atomic<bool> stop{false};
    absl::Time started;
    std::vector<double> lat;
    std::thread load([&] {
      lat = Background(
          clients, &stop, [&](int c, int i) { put((c * 31 + i) % records, 'd'); }, &started);
    });
    grpc::ClientContext ctx;
    Authorize(&ctx, admin);
    maintenance::v1::BackupTableRequest q;
    q.set_table("agentcom_config");
    const absl::Time t = absl::Now();
    maintenance->BackupTable(&ctx, q, &backup);
    backup_seconds = absl::ToDoubleSeconds(absl::Now() - t);
    stop = true;
    load.join();
    backup_load = Summarise(lat, backup_seconds);
  }
  const Stats writes_quiet = [&] {
    std::atomic<bool> stop{false};
    absl::Time started;
    const double seconds = std::max(1.0, backup_seconds);
    std::thread timer([&] {
      absl::SleepFor(absl::Seconds(seconds));
      stop = true;
    });
    auto lat = Background(
        clients, &stop, [&](int c, int i) { put((c * 31 + i) % records, 'e'); }, &started);
    timer.join();
    return Summarise(lat, seconds);
  }();
  const double backup_bytes = backup.results_size() ? backup.results(0).size_bytes() : 0;
  const long mb = std::max(1L, long(backup_bytes / (1 << 20)));
  const absl::Time dd_start = absl::Now();
  testing::RunCommand(absl::StrCat("dd if=/dev/zero of=", dir.Sub("dd.out"), " bs=1M count=", mb,
                                   " conv=fsync 2>/dev/null"));
  const double dd_mbps = mb / absl::ToDoubleSeconds(absl::Now() - dd_start);
  const double backup_mbps = backup_bytes / (1 << 20) / backup_seconds;
  // Backups are snappy-compressed, so also: table bytes protected per second
  // against dd writing the table's size.
  const double table_bytes = static_cast<double>(compact.after().disk_bytes());
  const long table_mb = std::max(1L, long(table_bytes / (1 << 20)));
  const absl::Time dd2_start = absl::Now();
  testing::RunCommand(absl::StrCat("dd if=/dev/zero of=", dir.Sub("dd2.out"),
                                   " bs=1M count=", table_mb, " conv=fsync 2>/dev/null"));
  const double dd_table_mbps = table_mb / absl::ToDoubleSeconds(absl::Now() - dd2_start);
  const double table_mbps = table_bytes / (1 << 20) / backup_seconds;
  std::cout << "\n3. backup under load\n";
  std::cout << absl::StrFormat(
      "   backup %.1f MB in %.2f s = %.1f MB/s; dd conv=fsync %.1f MB/s; ratio %.2f\n",
      backup_bytes / (1 << 20), backup_seconds, backup_mbps, dd_mbps, backup_mbps / dd_mbps);
  std::cout << absl::StrFormat(
      "   table of %.1f MB protected at %.1f MB/s; dd conv=fsync of that size %.1f MB/s; ratio "
      "%.2f\n",
      table_bytes / (1 << 20), table_mbps, dd_table_mbps, table_mbps / dd_table_mbps);
  json.Add("backup_table_mb_per_sec", table_mbps);
  json.Add("dd_table_mb_per_sec", dd_table_mbps);
  Row("writers without backup", writes_quiet);
  Row("writers during backup", backup_load,
      absl::StrFormat("p99 %.2fx, max %.2fx", backup_load.p99_ms / writes_quiet.p99_ms,
                      backup_load.max_ms / writes_quiet.max_ms));
  json.Add("backup_mb_per_sec", backup_mbps);
  json.Add("dd_mb_per_sec", dd_mbps);
  json.Add("backup_writers_quiet", writes_quiet);
  json.Add("backup_writers_during", backup_load);

  // 5. Verify scan vs a plain in-process iteration of a copy.
  store_admin::v1::VerifyResponse verify;
  {
    grpc::ClientContext ctx;
    Authorize(&ctx, admin);
    store_admin::v1::VerifyRequest q;
    q.set_table("agentcom_config");
    config_admin->Verify(&ctx, q, &verify);
  }
  testing::RunCommand(
      absl::StrCat("cp -r ", sys->topology().data_dir(), "/agentcom_config ", dir.Sub("copy")));
  double iterate_seconds;
  uint64_t iterated = 0;
  {
    leveldb::DB* raw = nullptr;
    leveldb::Options o;
    leveldb::DB::Open(o, dir.Sub("copy"), &raw);
    std::unique_ptr<leveldb::DB> db(raw);
    const absl::Time t = absl::Now();
    std::unique_ptr<leveldb::Iterator> it(db->NewIterator(leveldb::ReadOptions()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) ++iterated;
    iterate_seconds = absl::ToDoubleSeconds(absl::Now() - t);
  }
  const double verify_rate = verify.record_count() / verify.duration_seconds();
  const double iterate_rate = iterated / iterate_seconds;
  std::cout << "\n5. verify scan\n";
  std::cout << absl::StrFormat(
      "   Verify %llu records at %.0f records/s; plain iteration %.0f records/s; ratio %.2f\n",
      (unsigned long long)verify.record_count(), verify_rate, iterate_rate,
      verify_rate / iterate_rate);
  json.Add("verify_records_per_sec", verify_rate);
  json.Add("iterate_records_per_sec", iterate_rate);

  // 4. Restore: flip bytes in the live table, read, wait for verified data.
  {
    grpc::ClientContext ctx;
    Authorize(&ctx, admin);
    store_admin::v1::CompactRequest q;
    q.set_table("agentcom_config");
    store_admin::v1::CompactResponse out;
    config_admin->Compact(&ctx, q, &out);
    grpc::ClientContext bctx;
    Authorize(&bctx, admin);
    maintenance::v1::BackupTableRequest b;
    b.set_table("agentcom_config");
    maintenance->BackupTable(&bctx, b, &backup);
  }
  const absl::Time cp_start = absl::Now();
  testing::RunCommand(
      absl::StrCat("cp -r ", sys->topology().data_dir(), "/agentcom_config ", dir.Sub("copy2")));
  const double cp_seconds = absl::ToDoubleSeconds(absl::Now() - cp_start);
  testing::FlipBytesInLargestTableFile(sys->topology().data_dir() + "/agentcom_config");
  absl::Time detected = absl::InfinitePast();
  for (int i = 0; i < records && detected == absl::InfinitePast(); i += 997) {
    grpc::ClientContext ctx;
    Authorize(&ctx, agent);
    config::v1::ListRequest q;
    q.set_page_size(1000);
    q.set_page_token("");
    config::v1::ListResponse out;
    // Pages through everything until the first failing read.
    std::string token;
    do {
      grpc::ClientContext c2;
      Authorize(&c2, agent);
      q.set_page_token(token);
      grpc::Status st = config->List(&c2, q, &out);
      if (!st.ok()) {
        detected = absl::Now();
        break;
      }
      token = out.next_page_token();
    } while (!token.empty());
    break;
  }
  std::map<std::string, std::string> details;
  double restore_seconds = -1;
  while (detected != absl::InfinitePast() && absl::Now() - detected < absl::Minutes(10)) {
    grpc::ClientContext ctx;
    Authorize(&ctx, admin);
    maintenance::v1::ListEventsRequest q;
    q.set_limit(1000);
    maintenance::v1::ListEventsResponse out;
    maintenance->ListEvents(&ctx, q, &out);
    for (const auto& ev : out.events()) {
      if (ev.type() == "recovery_complete" && ev.table() == "agentcom_config") {
        details.insert(ev.details().begin(), ev.details().end());
      }
    }
    if (!details.empty()) {
      restore_seconds = absl::ToDoubleSeconds(absl::Now() - detected);
      break;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  std::cout << "\n4. restore\n";
  std::cout << absl::StrFormat(
      "   detection to verified serving %.2f s (cp -r of the table %.3f s, ratio %.1f)\n",
      restore_seconds, cp_seconds, restore_seconds / cp_seconds);
  for (const auto& [k, v] : details) {
    if (k.rfind("step_", 0) == 0) std::cout << "     " << k << " = " << v << "\n";
  }
  json.Add("restore_seconds", restore_seconds);
  json.Add("cp_seconds", cp_seconds);

  // 6. Memory.
  std::cout << "\n6. memory (RSS at idle -> peak after the data-path load), KiB\n";
  for (const auto& [name, idle] : idle_memory) {
    std::cout << absl::StrFormat("   %-16s idle %7ld   peak %7ld\n", name, idle.first,
                                 loaded_memory[name].second);
    json.Add("rss_idle_kb_" + name, idle.first);
    json.Add("rss_peak_kb_" + name, loaded_memory[name].second);
  }
  // 7. Dashboard fan-out.
  const int ws = smoke ? 20 : absl::GetFlag(FLAGS_ws_clients);
  const double fan = Median(FanOut(*sys, ws, reps));
  std::cout << absl::StrFormat(
      "\n7. dashboard fan-out: one event reaches %d WebSocket clients, p99 %.1f ms\n", ws, fan);
  json.Add("ws_clients", ws);
  json.Add("ws_fanout_p99_ms", fan);
  std::ofstream(absl::GetFlag(FLAGS_out)) << json.Done() << "\n";
  std::cout << "\nwrote " << absl::GetFlag(FLAGS_out) << "\n";
  return restore_seconds > 0 ? 0 : 1;
}

}  // namespace
}  // namespace agentcom::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return agentcom::bench::Main();
}
