#include "services/maintenance/offline_store.h"

#include "absl/strings/str_cat.h"
#include "common/storage/backup.h"
#include "common/storage/wal_shipper.h"

namespace agentcom::maintenance {

OfflineStore::OfflineStore(config::Topology topology, leveldb::Env* env, Clock* clock)
    : topology_(std::move(topology)), env_(env), clock_(clock) {}

OfflineStore::~OfflineStore() {
  absl::MutexLock l(&mu_);
  tables_.clear();
}

absl::Status OfflineStore::Stop(const std::string& store) {
  auto spec = config::FindStore(topology_, store);
  if (!spec.ok()) return spec.status();
  absl::MutexLock l(&mu_);
  for (const auto& t : (*spec)->tables()) tables_.erase(t.name());
  return absl::OkStatus();
}

absl::Status OfflineStore::Start(const std::string& store) {
  auto spec = config::FindStore(topology_, store);
  if (!spec.ok()) return spec.status();
  absl::MutexLock l(&mu_);
  for (const auto& t : (*spec)->tables()) {
    if (tables_.count(t.name())) continue;
    storage::TableOptions o;
    o.name = t.name();
    o.clock = clock_;
    o.dir = absl::StrCat(topology_.data_dir(), "/", t.name());
    o.storage = config::EffectiveStorage(topology_, t);
    // Checked against the shipped logs at open, as in the store; nothing is
    // shipped from here (no agent writes to an offline table).
    o.wal_ship_root = storage::ShippedWalRoot(topology_.backup_dir(), t.name());
    o.storage.set_wal_ship_interval_ms(0);
    o.env = env_;
    auto table = storage::OpenTable(o);
    if (!table.ok()) {
      for (const auto& other : (*spec)->tables()) tables_.erase(other.name());
      return absl::Status(
          table.status().code(),
          absl::StrCat("cannot open table ", t.name(), " of store ", store,
                       " (is the store process running?): ", table.status().message()));
    }
    tables_[t.name()] = *std::move(table);
  }
  return absl::OkStatus();
}

absl::StatusOr<ProcessState> OfflineStore::GetState(const std::string& store) {
  auto spec = config::FindStore(topology_, store);
  if (!spec.ok()) return spec.status();
  absl::MutexLock l(&mu_);
  return tables_.count((*spec)->tables(0).name()) ? ProcessState::kRunning : ProcessState::kStopped;
}

absl::StatusOr<storage::Table*> OfflineStore::Find(const std::string& table) {
  absl::MutexLock l(&mu_);
  auto it = tables_.find(table);
  if (it == tables_.end()) {
    auto store = config::FindStoreOfTable(topology_, table);
    return absl::UnavailableError(absl::StrCat(
        "store ", store.ok() ? (*store)->name() : "of " + table, " is down (table ", table, ")"));
  }
  return it->second.get();
}

absl::StatusOr<common::v1::TableStats> OfflineStore::GetTableStats(const std::string& table) {
  auto t = Find(table);
  if (!t.ok()) return t.status();
  return (*t)->Stats();
}

absl::StatusOr<store_admin::v1::CompactResponse> OfflineStore::Compact(const std::string& table) {
  auto t = Find(table);
  if (!t.ok()) return t.status();
  store_admin::v1::CompactResponse r;
  *r.mutable_before() = (*t)->Stats();
  if (auto s = (*t)->Compact(); !s.ok()) return s;
  *r.mutable_after() = (*t)->Stats();
  return r;
}

absl::StatusOr<store_admin::v1::SnapshotResponse> OfflineStore::Snapshot(const std::string& table) {
  auto t = Find(table);
  if (!t.ok()) return t.status();
  auto m = (*t)->Snapshot(topology_.backup_dir());
  if (!m.ok()) return m.status();
  store_admin::v1::SnapshotResponse r;
  *r.mutable_manifest() = *m;
  return r;
}

absl::StatusOr<store_admin::v1::VerifyResponse> OfflineStore::Verify(const std::string& table) {
  auto t = Find(table);
  if (!t.ok()) return t.status();
  auto v = (*t)->Verify();
  if (!v.ok()) return v.status();
  store_admin::v1::VerifyResponse r;
  r.set_record_count(v->record_count);
  r.set_content_hash(v->content_hash);
  return r;
}

absl::StatusOr<store_admin::v1::FinishRestoreResponse> OfflineStore::FinishRestore(
    const std::string& table, const storage::RestoreExpectation& expected) {
  auto t = Find(table);
  if (!t.ok()) return t.status();
  auto v = (*t)->FinishRestore(expected);
  if (!v.ok()) return v.status();
  store_admin::v1::FinishRestoreResponse r;
  r.mutable_verified()->set_record_count(v->record_count);
  r.mutable_verified()->set_content_hash(v->content_hash);
  *r.mutable_stats() = (*t)->Stats();
  return r;
}

absl::Status OfflineStore::WaitServing(const std::string& table, absl::Duration) {
  return Find(table).status();
}

}  // namespace agentcom::maintenance
