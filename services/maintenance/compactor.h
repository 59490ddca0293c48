#ifndef AGENTCOM_SERVICES_MAINTENANCE_COMPACTOR_H_
#define AGENTCOM_SERVICES_MAINTENANCE_COMPACTOR_H_

#include <string>

#include "agentcom/maintenance/v1/maintenance.pb.h"
#include "agentcom/maintenance/v1/state.pb.h"
#include "common/clock/clock.h"
#include "services/maintenance/compaction_history.h"
#include "services/maintenance/event_log.h"
#include "services/maintenance/maintenance_metrics.h"
#include "services/maintenance/store_client.h"

namespace agentcom::maintenance {

// Compaction (REQUIREMENTS C1-C7): compacts tables through their stores,
// skips those below the fragmentation threshold unless forced, retries a
// failure once, and records every run in the history, the event log and the
// metrics. It does not lock tables: the caller (MaintenanceCore) holds the
// table's lock around CompactTable and runs tables one at a time.
// Thread-safe.
class Compactor {
 public:
  struct Options {
    // Fraction in [0, 1] (C4).
    double threshold = 0.1;
    Clock* clock = nullptr;
    StoreClient* stores = nullptr;
    EventLog* events = nullptr;
    MaintenanceMetrics* metrics = nullptr;
    CompactionHistoryStore* history = nullptr;
  };
  explicit Compactor(Options options) : options_(options) {}

  // An empty run started now.
  v1::CompactionRun NewRun(v1::Trigger trigger, bool force) const;
  // Compacts one table (always when `force`); never fails as a call: the
  // result's outcome and reason say what happened. Blocks while the store
  // compacts.
  v1::CompactionResult CompactTable(const std::string& table, bool force);
  // Counts the run's results, sets its duration, adds it to the history and
  // emits compaction_complete (and compaction_failed when a table failed).
  v1::CompactionRun FinishRun(v1::CompactionRun run);

 private:
  const Options options_;
};

}  // namespace agentcom::maintenance

#endif  // AGENTCOM_SERVICES_MAINTENANCE_COMPACTOR_H_
