// Soak (issue 8): many concurrent agents on all six stores, scheduled
// backups and compaction at their shortest intervals, and a corruption
// injected into a live table every AGENTCOM_SOAK_CORRUPT_EVERY seconds, for
// AGENTCOM_SOAK_SECONDS (CI runs 90; the documented soak runs 1800:
//   AGENTCOM_SOAK_SECONDS=1800 build/bin/soak_test
// ). At the end it prints ops done, errors outside restore windows (target:
// zero), restores done, time each corrupted table spent out of service, and
// audits that every acknowledged write is present or was lost to a restore
// from a named backup taken before it.
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "agentcom/channels/v1/channels.grpc.pb.h"
#include "agentcom/config/v1/config.grpc.pb.h"
#include "agentcom/message_history/v1/message_history.grpc.pb.h"
#include "agentcom/store_admin/v1/store_admin.grpc.pb.h"
#include "agentcom/task_queue/v1/task_queue.grpc.pb.h"
#include "agentcom/threads/v1/threads.grpc.pb.h"
#include "common/storage/backup.h"
#include "gtest/gtest.h"
#include "tests/integration/system_fixture.h"

namespace agentcom::testing {
namespace {

namespace mnt = ::agentcom::maintenance::v1;
namespace mbx = ::agentcom::mailbox::v1;

int EnvInt(const char* name, int fallback) {
  int v = 0;
  const char* s = std::getenv(name);
  return s != nullptr && absl::SimpleAtoi(s, &v) && v > 0 ? v : fallback;
}

absl::Time EventTime(const mnt::Event& e) {
  return absl::FromUnixSeconds(e.time().seconds()) + absl::Nanoseconds(e.time().nanos());
}

absl::Time BackupTime(const std::string& id) {
  return storage::BackupIdTime(id).value_or(absl::InfiniteFuture());
}

struct Ack {
  std::string table;
  std::string key;    // mailbox: agent/seq; config: key
  std::string value;  // mailbox: body; config: value
  absl::Time at;
};

struct Failure {
  std::string table;  // the table the call touched
  absl::Time at;
  std::string error;
};

class SoakTest : public SystemTest {
 protected:
  void SetUp() override {
    SupervisedSystem::Options options;
    options.customize = [](config::Topology* t) {
      auto* m = t->mutable_maintenance();
      m->set_backup_interval_seconds(60);
      m->set_compaction_interval_seconds(60);
      m->set_first_run_delay_seconds(5);
      m->set_backup_retention(3);
    };
    StartSystem(options);
  }

  void Record(const Ack& a) {
    std::lock_guard<std::mutex> l(mu_);
    acks_.push_back(a);
  }
  void Fail(const std::string& table, const grpc::Status& s) {
    std::lock_guard<std::mutex> l(mu_);
    failures_.push_back({table, absl::Now(), s.error_message()});
  }
  void Count(const std::string& store) {
    std::lock_guard<std::mutex> l(mu_);
    ++ops_[store];
  }
  std::shared_ptr<grpc::Channel> FastReconnectChannel(const std::string& store) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 20);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 20);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 50);
    return grpc::CreateCustomChannel((*config::FindStore(system_->topology(), store))->address(),
                                     grpc::InsecureChannelCredentials(), args);
  }
  // As a well-behaved agent calls: waiting (up to the deadline) for a store
  // that is restarting instead of failing while its channel reconnects.
  grpc::ClientContext* Agent(grpc::ClientContext* ctx) {
    Authorize(ctx, system_->agent_token());
    ctx->set_wait_for_ready(true);
    ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    return ctx;
  }

  std::mutex mu_;
  std::vector<Ack> acks_;
  std::vector<Failure> failures_;
  std::map<std::string, int64_t> ops_;
};

TEST_F(SoakTest, AgentsOnAllSixStoresThroughCorruptionsLoseNothingUnexplained) {
  const absl::Duration duration = absl::Seconds(EnvInt("AGENTCOM_SOAK_SECONDS", 90));
  const absl::Duration corrupt_every = absl::Seconds(EnvInt("AGENTCOM_SOAK_CORRUPT_EVERY", 25));
  const absl::Time start = absl::Now();
  const absl::Time deadline = start + duration;
  std::vector<std::thread> agents;

  for (int i = 0; i < 6; ++i) {  // mailbox writers
    agents.emplace_back([&, i] {
      // Two of them are impatient (issue 12): channels that reconnect within
      // 20-50 ms and calls that do not wait for the channel, so they write
      // to a restarted store the moment it listens.
      const bool impatient = i < 2;
      auto stub = mbx::Mailbox::NewStub(impatient ? FastReconnectChannel("mailbox")
                                                  : system_->Channel("mailbox"));
      const std::string agent = absl::StrCat("soak-", i);
      for (int n = 0; absl::Now() < deadline; ++n) {
        grpc::ClientContext ctx;
        mbx::EnqueueRequest r;
        r.set_agent_id(agent);
        r.mutable_message()->set_body(absl::StrCat(agent, "-", n, std::string(150, '.')));
        mbx::EnqueueResponse out;
        Agent(&ctx);
        if (impatient) ctx.set_wait_for_ready(false);
        grpc::Status s = stub->Enqueue(&ctx, r, &out);
        if (s.ok()) {
          Record({"agent_mailbox", absl::StrCat(agent, "/", out.seq()), r.message().body(),
                  absl::Now()});
          Count("mailbox");
        } else {
          Fail("agent_mailbox", s);
          absl::SleepFor(absl::Milliseconds(impatient ? 5 : 50));
        }
      }
    });
  }
  for (int i = 0; i < 2; ++i) {  // mailbox readers
    agents.emplace_back([&, i] {
      auto stub = mbx::Mailbox::NewStub(system_->Channel("mailbox"));
      for (int n = 0; absl::Now() < deadline; ++n) {
        grpc::ClientContext ctx;
        mbx::PollRequest r;
        r.set_agent_id(absl::StrCat("soak-", (i + n) % 6));
        r.set_max_messages(100);
        mbx::PollResponse out;
        grpc::Status s = stub->Poll(Agent(&ctx), r, &out);
        if (s.ok())
          Count("mailbox");
        else
          Fail("agent_mailbox", s);
        absl::SleepFor(absl::Milliseconds(s.ok() ? 5 : 50));
      }
    });
  }
  for (int i = 0; i < 2; ++i) {  // config writers and readers
    agents.emplace_back([&, i] {
      auto stub = config::v1::Config::NewStub(system_->Channel("config"));
      for (int n = 0; absl::Now() < deadline; ++n) {
        grpc::ClientContext ctx;
        config::v1::PutRequest r;
        r.set_key(absl::StrCat("soak/", i, "/", n % 40));
        r.set_value(absl::StrCat("v", n, std::string(100, '.')));
        config::v1::Entry out;
        grpc::Status s = stub->Put(Agent(&ctx), r, &out);
        if (s.ok()) {
          Record({"agentcom_config", r.key(), r.value(), absl::Now()});
          Count("config");
        } else {
          Fail("agentcom_config", s);
        }
        grpc::ClientContext gctx;
        config::v1::GetRequest g;
        g.set_key(r.key());
        grpc::Status gs = stub->Get(Agent(&gctx), g, &out);
        if (gs.ok())
          Count("config");
        else
          Fail("agentcom_config", gs);
        if (!s.ok() || !gs.ok()) absl::SleepFor(absl::Milliseconds(50));
      }
    });
  }
  agents.emplace_back([&] {  // a task worker
    auto stub = task_queue::v1::TaskQueue::NewStub(system_->Channel("task_queue"));
    while (absl::Now() < deadline) {
      grpc::ClientContext ctx;
      task_queue::v1::SubmitRequest r;
      r.set_type("soak");
      r.set_payload("p");
      task_queue::v1::SubmitResponse sub;
      grpc::Status s = stub->Submit(Agent(&ctx), r, &sub);
      if (!s.ok()) {
        Fail("task_queue", s);
        continue;
      }
      grpc::ClientContext actx;
      task_queue::v1::AssignRequest a;
      a.set_agent_id("soak-worker");
      a.add_types("soak");
      task_queue::v1::Task task;
      s = stub->Assign(Agent(&actx), a, &task);
      if (!s.ok()) {
        Fail("task_queue", s);
        continue;
      }
      grpc::ClientContext cctx;
      task_queue::v1::CompleteRequest c;
      c.set_id(task.id());
      c.set_agent_id("soak-worker");
      s = stub->Complete(Agent(&cctx), c, &task);
      if (s.ok())
        Count("task_queue");
      else
        Fail("task_queue", s);
    }
  });
  agents.emplace_back([&] {  // channels, threads, message history
    auto channels = channels::v1::Channels::NewStub(system_->Channel("channels"));
    auto threads = threads::v1::Threads::NewStub(system_->Channel("threads"));
    auto history =
        message_history::v1::MessageHistory::NewStub(system_->Channel("message_history"));
    for (int n = 0; absl::Now() < deadline; ++n) {
      grpc::ClientContext c1;
      channels::v1::PublishRequest p;
      p.set_channel("soak");
      p.set_body(absl::StrCat("b", n));
      channels::v1::PublishResponse po;
      grpc::Status s = channels->Publish(Agent(&c1), p, &po);
      if (s.ok())
        Count("channels");
      else
        Fail("agent_channels", s);
      grpc::ClientContext c2;
      threads::v1::IndexRequest t;
      t.mutable_message()->set_id(absl::StrCat("m", n));
      if (n > 0) t.mutable_message()->set_reply_to(absl::StrCat("m", n - 1));
      threads::v1::IndexResponse to;
      s = threads->Index(Agent(&c2), t, &to);
      if (s.ok())
        Count("threads");
      else
        Fail("thread_messages", s);
      grpc::ClientContext c3;
      message_history::v1::StoreRequest h;
      h.mutable_message()->set_id(absl::StrCat("m", n));
      h.mutable_message()->set_from("soak");
      message_history::v1::StoreResponse ho;
      s = history->Store(Agent(&c3), h, &ho);
      if (s.ok())
        Count("message_history");
      else
        Fail("message_history", s);
    }
  });

  // The fault injector: force the table's data into table files, flip bytes
  // in the largest one, and read it all so the store notices.
  int injected = 0;
  const std::vector<std::pair<std::string, std::string>> targets = {{"mailbox", "agent_mailbox"},
                                                                    {"config", "agentcom_config"}};
  for (absl::Time next = start + corrupt_every; next + absl::Seconds(10) < deadline;
       next += corrupt_every) {
    absl::SleepFor(next - absl::Now());
    const auto& [store, table] = targets[injected % targets.size()];
    auto admin = store_admin::v1::StoreAdmin::NewStub(system_->Channel(store));
    grpc::ClientContext ctx;
    Admin(&ctx);
    store_admin::v1::CompactRequest compact;
    compact.set_table(table);
    store_admin::v1::CompactResponse compacted;
    if (!admin->Compact(&ctx, compact, &compacted).ok()) continue;  // e.g. still restoring
    FlipBytesInLargestTableFile(DataDir() + "/" + table);
    ++injected;
    // A full read finds it at once (agents would find it at their next read
    // of the damaged block).
    grpc::ClientContext vctx;
    Admin(&vctx);
    store_admin::v1::VerifyRequest verify;
    verify.set_table(table);
    store_admin::v1::VerifyResponse verified;
    (void)admin->Verify(&vctx, verify, &verified);
    std::cout << "[ SOAK     ] " << absl::FormatDuration(absl::Now() - start) << ": corrupted "
              << table << "\n";
  }
  for (auto& t : agents) t.join();

  // Let the last restore finish, then read everything back.
  const absl::Time settle = absl::Now() + absl::Seconds(90);
  while (absl::Now() < settle) {
    grpc::ClientContext ctx;
    Admin(&ctx);
    mnt::GetHealthResponse health;
    bool busy = !maintenance_->GetHealth(&ctx, {}, &health).ok();
    for (const auto& t : health.tables()) {
      busy |= t.stats().state() == common::v1::TABLE_STATE_CORRUPTED ||
              t.stats().state() == common::v1::TABLE_STATE_RESTORING;
    }
    if (!busy) break;
    absl::SleepFor(absl::Milliseconds(200));
  }
  ASSERT_TRUE(system_->WaitServing(absl::Seconds(30)));

  // Restore windows per table: from the corruption report to the restore's
  // end; and the backup each restore went back to.
  struct Window {
    absl::Time from, to, backup_time;
    std::string backup_id;
    std::string steps;  // the restore's steps and their seconds
  };
  std::map<std::string, std::vector<Window>> windows;
  std::map<std::string, absl::Time> detected;
  int restored = 0, degraded = 0, detections = 0;
  for (const auto& e : Events()) {
    if (e.type() == "corruption_detected") {
      detected[e.table()] = EventTime(e);
      ++detections;
    }
    if (e.type() == "recovery_complete" || e.type() == "recovery_failed") {
      const absl::Time from = detected.count(e.table()) ? detected[e.table()] : start;
      const std::string id = e.details().count("backup_id") ? e.details().at("backup_id") : "";
      std::string steps;
      for (const auto& [name, value] : e.details()) {
        if (absl::StartsWith(name, "step_")) absl::StrAppend(&steps, " ", name, "=", value);
      }
      windows[e.table()].push_back({from - absl::Seconds(1), EventTime(e) + absl::Seconds(1),
                                    id.empty() ? start : BackupTime(id), id, steps});
      restored += e.type() == "recovery_complete";
      degraded += e.type() == "recovery_failed";
    }
  }
  auto in_window = [&](const std::string& table, absl::Time at) {
    for (const Window& w : windows[table]) {
      if (at >= w.from && at <= w.to) return true;
    }
    return false;
  };
  // Lost to a restore: acknowledged after the backup it went back to was
  // taken, before the restore finished.
  auto explained = [&](const Ack& a) -> std::string {
    for (const Window& w : windows[a.table]) {
      if (a.at >= w.backup_time - absl::Seconds(1) && a.at <= w.to) {
        return w.backup_id.empty() ? "degraded" : w.backup_id;
      }
    }
    return "";
  };

  int outside = 0;
  std::map<std::string, int> errors_by_table;
  for (const Failure& f : failures_) {
    ++errors_by_table[f.table];
    if (!in_window(f.table, f.at)) {
      ++outside;
      if (outside <= 5)
        std::cout << "  error outside a restore window: " << f.table << ": " << f.error << "\n";
    }
  }

  // Audit the acknowledged writes.
  std::map<std::string, std::map<std::string, std::string>> stored;  // table -> key -> value
  for (int i = 0; i < 6; ++i) {
    const std::string agent = absl::StrCat("soak-", i);
    uint64_t after = 0;
    while (true) {
      grpc::ClientContext ctx;
      mbx::PollRequest r;
      r.set_agent_id(agent);
      r.set_after_seq(after);
      r.set_max_messages(1000);
      mbx::PollResponse page;
      ASSERT_TRUE(mailbox_->Poll(Agent(&ctx), r, &page).ok());
      for (const auto& m : page.messages())
        stored["agent_mailbox"][absl::StrCat(agent, "/", m.seq())] = m.body();
      if (!page.has_more() || page.messages().empty()) break;
      after = page.messages(page.messages_size() - 1).seq();
    }
  }
  auto config = config::v1::Config::NewStub(system_->Channel("config"));
  std::map<std::string, const Ack*> last_config;
  for (const Ack& a : acks_) {
    if (a.table == "agentcom_config") last_config[a.key] = &a;
  }
  for (const auto& [key, ack] : last_config) {
    grpc::ClientContext ctx;
    config::v1::GetRequest g;
    g.set_key(key);
    config::v1::Entry e;
    if (config->Get(Agent(&ctx), g, &e).ok()) stored["agentcom_config"][key] = e.value();
  }
  int present = 0, lost_explained = 0, lost_unexplained = 0;
  std::map<std::string, int> explained_by;
  for (const Ack& a : acks_) {
    if (a.table == "agentcom_config" && last_config[a.key] != &a) continue;  // overwritten
    auto it = stored[a.table].find(a.key);
    if (it != stored[a.table].end() && it->second == a.value) {
      ++present;
      continue;
    }
    const std::string why = explained(a);
    if (why.empty()) {
      ++lost_unexplained;
      if (lost_unexplained <= 5) {
        std::cout << "  LOST: " << a.table << " " << a.key << " acked at "
                  << absl::FormatDuration(a.at - start)
                  << (it == stored[a.table].end()
                          ? " (absent)"
                          : " (different value: " + it->second.substr(0, 20) + ")")
                  << " acked " << a.value.substr(0, 20) << "\n";
      }
    } else {
      ++lost_explained;
      ++explained_by[absl::StrCat(a.table, " <- ", why)];
    }
  }

  std::cout << "\n[ SOAK     ] " << absl::FormatDuration(duration) << ", corruption every "
            << absl::FormatDuration(corrupt_every) << "\n";
  std::cout << absl::StrFormat("  %-18s %10s %10s\n", "store/table", "ops", "errors");
  for (const auto& [store, n] : ops_) std::cout << absl::StrFormat("  %-18s %10d\n", store, n);
  for (const auto& [table, n] : errors_by_table)
    std::cout << absl::StrFormat("  %-18s %10s %10d\n", table, "", n);
  std::cout << "  corruptions injected " << injected << ", detected " << detections << ", restores "
            << restored << ", failed/degraded " << degraded << "\n";
  for (const auto& [table, ws] : windows) {
    absl::Duration out;
    for (const Window& w : ws) out += w.to - w.from - absl::Seconds(2);
    std::cout << "  " << table << ": " << ws.size() << " restore(s), out of service "
              << absl::FormatDuration(out) << " of " << absl::FormatDuration(duration) << "\n";
  }
  std::cout << "  errors outside restore windows: " << outside << "\n";
  std::cout << "  acknowledged writes: " << present << " present, " << lost_explained
            << " lost to a restore from a named backup, " << lost_unexplained << " unexplained\n";
  for (const auto& [why, n] : explained_by) std::cout << "    " << n << " x " << why << "\n";
  for (const auto& [table, ws] : windows) {
    for (const Window& w : ws) {
      std::cout << "    window " << table << " " << absl::FormatDuration(w.from - start) << " .. "
                << absl::FormatDuration(w.to - start) << " backup " << w.backup_id << " taken at "
                << absl::FormatDuration(w.backup_time - start) << "\n     " << w.steps << "\n";
    }
  }
  std::cout << "  stored: " << stored["agent_mailbox"].size() << " mailbox messages, "
            << stored["agentcom_config"].size() << " config keys\n";

  // An injection can go unseen: with writers running, a background
  // compaction may already have read the file and replace it, damage and
  // all, before anyone reads the damaged block. Every one that was seen must
  // end in a restore.
  EXPECT_GE(injected, 1);
  EXPECT_GE(detections, 1);
  EXPECT_EQ(restored, detections);
  EXPECT_EQ(degraded, 0);
  EXPECT_EQ(outside, 0);
  EXPECT_EQ(lost_unexplained, 0);
  // Issue 14: restores replay the write-ahead logs onto the backup.
  EXPECT_EQ(lost_explained, 0);
  EXPECT_GT(present, 1000);
}

}  // namespace
}  // namespace agentcom::testing
