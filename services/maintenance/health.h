#ifndef AGENTCOM_SERVICES_MAINTENANCE_HEALTH_H_
#define AGENTCOM_SERVICES_MAINTENANCE_HEALTH_H_

#include <functional>
#include <string>

#include "agentcom/maintenance/v1/maintenance.pb.h"
#include "common/config/topology.h"
#include "services/maintenance/backup_manager.h"
#include "services/maintenance/compaction_history.h"
#include "services/maintenance/store_client.h"

namespace agentcom::maintenance {

// The health of every table (REQUIREMENTS H1): its store's statistics and
// state (UNAVAILABLE when the store cannot be reached, RESTORING while a
// restore of it is queued or running), its backups and its last compaction.
// Thread-safe; each call asks every store (bounded by the store client's
// timeouts).
class HealthReporter {
 public:
  struct Options {
    const config::Topology* topology = nullptr;
    StoreClient* stores = nullptr;
    const BackupManager* backups = nullptr;
    const CompactionHistoryStore* history = nullptr;
    // Whether a restore of the table is queued or running.
    std::function<bool(const std::string& table)> restoring;
  };
  explicit HealthReporter(Options options) : options_(std::move(options)) {}

  v1::GetHealthResponse Get() const;

 private:
  const Options options_;
};

}  // namespace agentcom::maintenance

#endif  // AGENTCOM_SERVICES_MAINTENANCE_HEALTH_H_
