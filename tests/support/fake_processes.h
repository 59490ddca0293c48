#ifndef AGENTCOM_TESTS_SUPPORT_FAKE_PROCESSES_H_
#define AGENTCOM_TESTS_SUPPORT_FAKE_PROCESSES_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/config/topology.h"
#include "common/storage/table.h"
#include "gtest/gtest.h"
#include "services/maintenance/store_client.h"
#include "services/maintenance/supervisor.h"

namespace agentcom::testing {

using maintenance::ProcessState;

// Store processes in-process: tables opened from the topology's data dir.
class FakeProcesses final : public maintenance::ProcessSupervisor, public maintenance::StoreClient {
 public:
  explicit FakeProcesses(const config::Topology& t) : topology_(t) {
    for (const auto& s : t.stores()) EXPECT_TRUE(Start(s.name()).ok());
  }

  // ProcessSupervisor
  absl::Status Stop(const std::string& name) override {
    absl::MutexLock l(&mu_);
    calls_.push_back("stop " + name);
    for (const auto& t : (*config::FindStore(topology_, name))->tables()) tables_.erase(t.name());
    return absl::OkStatus();
  }
  absl::Status Start(const std::string& name) override {
    if (absl::Status s = StartLocked(name); !s.ok()) return s;
    // As a real store, a started process serves agents at once.
    if (after_start) after_start(name);
    return absl::OkStatus();
  }
  // Called after every successful Start (outside the fake's lock): tests act
  // as agents and operators in the window right after a store comes up.
  std::function<void(const std::string& store)> after_start;
  absl::StatusOr<ProcessState> GetState(const std::string& name) override {
    if (never_serving) return ProcessState::kStarting;
    absl::MutexLock l(&mu_);
    const auto& t = (*config::FindStore(topology_, name))->tables(0).name();
    return tables_.count(t) ? ProcessState::kRunning : ProcessState::kStopped;
  }

  // StoreClient
  absl::StatusOr<common::v1::TableStats> GetTableStats(const std::string& table) override {
    auto t = Find(table);
    if (!t.ok()) return t.status();
    return (*t)->Stats();
  }
  absl::StatusOr<store_admin::v1::CompactResponse> Compact(const std::string& table) override {
    {
      absl::MutexLock l(&mu_);
      ++compact_calls;
      if (compact_failures > 0) {
        --compact_failures;
        return absl::UnavailableError("injected compaction failure");
      }
    }
    auto t = Find(table);
    if (!t.ok()) return t.status();
    store_admin::v1::CompactResponse r;
    *r.mutable_before() = (*t)->Stats();
    if (auto s = (*t)->Compact(); !s.ok()) return s;
    *r.mutable_after() = (*t)->Stats();
    return r;
  }
  absl::StatusOr<store_admin::v1::SnapshotResponse> Snapshot(const std::string& table) override {
    auto t = Find(table);
    if (!t.ok()) return t.status();
    auto m = (*t)->Snapshot(topology_.backup_dir());
    if (!m.ok()) return m.status();
    store_admin::v1::SnapshotResponse r;
    *r.mutable_manifest() = *m;
    return r;
  }
  absl::StatusOr<store_admin::v1::VerifyResponse> Verify(const std::string& table) override {
    auto t = Find(table);
    if (!t.ok()) return t.status();
    auto v = (*t)->Verify();
    if (!v.ok()) return v.status();
    store_admin::v1::VerifyResponse r;
    r.set_record_count(v->record_count);
    r.set_content_hash(v->content_hash);
    return r;
  }
  absl::StatusOr<store_admin::v1::FinishRestoreResponse> FinishRestore(
      const std::string& table, uint64_t records, const std::string& content_hash) override {
    auto t = Find(table);
    if (!t.ok()) return t.status();
    auto v = (*t)->FinishRestore({records, content_hash});
    if (!v.ok()) return v.status();
    store_admin::v1::FinishRestoreResponse r;
    r.mutable_verified()->set_record_count(v->record_count);
    r.mutable_verified()->set_content_hash(v->content_hash);
    *r.mutable_stats() = (*t)->Stats();
    return r;
  }
  absl::Status WaitServing(const std::string& table, absl::Duration) override {
    if (never_serving) return absl::DeadlineExceededError("not serving yet");
    return Find(table).status();
  }

  absl::Status StartLocked(const std::string& name) {
    absl::MutexLock l(&mu_);
    calls_.push_back("start " + name);
    if (fail_start) return absl::FailedPreconditionError("FATAL");
    for (const auto& t : (*config::FindStore(topology_, name))->tables()) {
      if (tables_.count(t.name())) continue;
      storage::TableOptions o;
      o.name = t.name();
      o.dir = topology_.data_dir() + "/" + t.name();
      o.storage = config::EffectiveStorage(topology_, t);
      auto table = storage::OpenTable(o);
      if (!table.ok()) return table.status();
      tables_[t.name()] = *std::move(table);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<storage::Table*> Find(const std::string& table) {
    absl::MutexLock l(&mu_);
    auto it = tables_.find(table);
    if (it == tables_.end()) return absl::UnavailableError(absl::StrCat("store of ", table, " is down"));
    return it->second.get();
  }
  std::vector<std::string> calls() {
    absl::MutexLock l(&mu_);
    return calls_;
  }

  std::atomic<bool> fail_start{false};
  // Started processes stay STARTING and never answer their health check.
  std::atomic<bool> never_serving{false};
  int compact_failures ABSL_GUARDED_BY(mu_) = 0;
  int compact_calls ABSL_GUARDED_BY(mu_) = 0;
  absl::Mutex mu_;

 private:
  const config::Topology topology_;
  std::map<std::string, std::unique_ptr<storage::Table>> tables_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> calls_ ABSL_GUARDED_BY(mu_);
};

}  // namespace agentcom::testing

#endif  // AGENTCOM_TESTS_SUPPORT_FAKE_PROCESSES_H_
