#include "services/tools/offline_restore.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/clock/clock.h"
#include "common/json/json.h"
#include "common/storage/backup.h"
#include "leveldb/env.h"
#include "services/maintenance/backup_manager.h"
#include "services/maintenance/event_log.h"
#include "services/maintenance/maintenance_metrics.h"
#include "services/maintenance/offline_store.h"
#include "services/maintenance/restore_journal.h"
#include "services/maintenance/restorer.h"

namespace agentcom::tools {
namespace {

// The table's store, or an error printed to `err`.
const config::StoreSpec* StoreOf(const config::Topology& topology, const std::string& table,
                                 std::ostream& err) {
  auto store = config::FindStoreOfTable(topology, table);
  if (!store.ok()) {
    err << "table " << table << " is not in the topology\n";
    return nullptr;
  }
  return *store;
}

bool Answers(const std::string& address) {
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  return channel->WaitForConnected(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
}

}  // namespace

int VerifyBackups(const config::Topology& topology, const std::string& table,
                  const std::string& backup_id, std::ostream& out, std::ostream& err) {
  if (StoreOf(topology, table, err) == nullptr) return 2;
  std::vector<std::string> ids;
  if (!backup_id.empty()) {
    if (auto s = maintenance::CheckBackupExists(leveldb::Env::Default(), topology.backup_dir(),
                                                table, backup_id);
        !s.ok()) {
      err << s.message() << "\n";
      return absl::IsInvalidArgument(s) ? 2 : 1;
    }
    ids.push_back(backup_id);
  } else {
    auto listed = storage::ListBackups(topology.backup_dir(), table);
    if (!listed.ok()) {
      err << listed.status().message() << "\n";
      return 1;
    }
    ids = *listed;
    if (ids.empty()) {
      err << "table " << table << " has no backups in " << topology.backup_dir() << "\n";
      return 1;
    }
  }
  int damaged = 0;
  for (const std::string& id : ids) {
    auto manifest = storage::VerifyBackup(storage::BackupPath(topology.backup_dir(), table, id));
    if (manifest.ok()) {
      out << "OK      " << table << " " << id << ": " << manifest->record_count() << " records, "
          << maintenance::BackupSize(*manifest) << " bytes\n";
    } else {
      ++damaged;
      out << "DAMAGED " << table << " " << id << ": " << manifest.status().message() << "\n";
    }
  }
  return damaged == 0 ? 0 : 1;
}

int RestoreOffline(const config::Topology& topology, const std::string& table,
                   const std::string& backup_id, const maintenance::RestoreTarget& target,
                   std::ostream& out, std::ostream& err) {
  const config::StoreSpec* store = StoreOf(topology, table, err);
  if (store == nullptr) return 2;
  if (!backup_id.empty()) {
    if (auto s = maintenance::CheckBackupExists(leveldb::Env::Default(), topology.backup_dir(),
                                                table, backup_id);
        !s.ok()) {
      err << s.message() << "\n";
      return 2;
    }
  }
  maintenance::EventLog events(topology.state_dir() + "/events.jsonl", Clock::Real());
  maintenance::MaintenanceMetrics metrics(nullptr, {table});
  maintenance::RestoreJournalStore journal(leveldb::Env::Default(),
                                           topology.state_dir() + "/restore-journal");
  maintenance::OfflineStore stores(topology);
  maintenance::Restorer restorer({.topology = &topology,
                                  .clock = Clock::Real(),
                                  .env = leveldb::Env::Default(),
                                  .supervisor = &stores,
                                  .stores = &stores,
                                  .events = &events,
                                  .metrics = &metrics,
                                  .journal = &journal});
  const maintenance::RestoreRequest request{.table = table,
                                            .backup_id = backup_id,
                                            .trigger = maintenance::v1::TRIGGER_MANUAL,
                                            .target_time = target.time};
  if (auto s = restorer.CheckTarget(request); !s.ok()) {
    err << s.message() << "\n";
    return 2;
  }
  if (target.dry_run) {
    absl::StatusOr<maintenance::v1::RestoreResult> preview = restorer.Preview(request);
    if (!preview.ok()) {
      err << preview.status().message() << "\n";
      return 1;
    }
    out << json::ToJson(*preview) << "\n";
    return 0;
  }
  if (Answers(topology.maintenance().address())) {
    err << "maintenance is running at " << topology.maintenance().address()
        << ": restore through it (Maintenance.RestoreTable), or stop it first\n";
    return 2;
  }
  // Opening the tables fails while the store process holds them.
  if (auto s = stores.Start(store->name()); !s.ok()) {
    err << s.message() << "\nstop the store first, e.g. supervisorctl stop " << store->name()
        << "\n";
    return 2;
  }
  if (auto s = events.Load(); !s.ok()) {
    err << s.message() << "\n";
    return 1;
  }
  maintenance::v1::RestoreResult result = restorer.Restore(request);
  (void)stores.Stop(store->name());  // closes the tables cleanly
  out << json::ToJson(result) << "\n";
  return result.outcome() == maintenance::v1::RESTORE_OUTCOME_RESTORED ? 0 : 1;
}

}  // namespace agentcom::tools
