#ifndef AGENTCOM_TESTS_SUPPORT_FAKE_PROCESSES_H_
#define AGENTCOM_TESTS_SUPPORT_FAKE_PROCESSES_H_

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/config/topology.h"
#include "gtest/gtest.h"
#include "services/maintenance/offline_store.h"
#include "tests/support/test_support.h"

namespace agentcom::testing {

using maintenance::ProcessState;

// The store processes of a topology in-process (maintenance::OfflineStore:
// starting a store opens its tables, stopping closes them), every store
// started, with faults and hooks for tests and a record of calls.
class FakeProcesses final : public maintenance::OfflineStore {
 public:
  explicit FakeProcesses(const config::Topology& t, Clock* clock = nullptr)
      : OfflineStore(t, nullptr, clock) {
    for (const auto& s : t.stores()) EXPECT_TRUE(Start(s.name()).ok());
  }

  absl::Status Stop(const std::string& name) override {
    Record("stop " + name);
    return OfflineStore::Stop(name);
  }
  absl::Status Start(const std::string& name) override {
    Record("start " + name);
    if (fail_start) return absl::FailedPreconditionError("FATAL");
    if (absl::Status s = OfflineStore::Start(name); !s.ok()) return s;
    // As a real store, a started process serves agents at once.
    if (after_start) after_start(name);
    return absl::OkStatus();
  }
  absl::StatusOr<ProcessState> GetState(const std::string& name) override {
    if (never_serving) return ProcessState::kStarting;
    return OfflineStore::GetState(name);
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
    return OfflineStore::Compact(table);
  }
  absl::StatusOr<store_admin::v1::SnapshotResponse> Snapshot(const std::string& table) override {
    auto r = OfflineStore::Snapshot(table);
    // As if the disk returned other bytes than were written.
    if (r.ok() && damage_snapshots) {
      DamageBackup(topology().backup_dir(), table, r->manifest().backup_id());
    }
    return r;
  }
  absl::Status WaitServing(const std::string& table, absl::Duration timeout) override {
    if (never_serving) return absl::DeadlineExceededError("not serving yet");
    return OfflineStore::WaitServing(table, timeout);
  }

  std::vector<std::string> calls() {
    absl::MutexLock l(&mu_);
    return calls_;
  }

  // Start fails as supervisord does for a FATAL program.
  std::atomic<bool> fail_start{false};
  // Started processes stay STARTING and never answer their health check.
  std::atomic<bool> never_serving{false};
  // Backups written by Snapshot have bytes flipped in their first file.
  std::atomic<bool> damage_snapshots{false};
  // Called after every successful Start: tests act as agents and operators
  // in the window right after a store comes up.
  std::function<void(const std::string& store)> after_start;
  int compact_failures ABSL_GUARDED_BY(mu_) = 0;
  int compact_calls ABSL_GUARDED_BY(mu_) = 0;
  absl::Mutex mu_;

 private:
  void Record(std::string call) {
    absl::MutexLock l(&mu_);
    calls_.push_back(std::move(call));
  }
  std::vector<std::string> calls_ ABSL_GUARDED_BY(mu_);
};

}  // namespace agentcom::testing

#endif  // AGENTCOM_TESTS_SUPPORT_FAKE_PROCESSES_H_
