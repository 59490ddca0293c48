#ifndef AGENTCOM_COMMON_STORAGE_TABLE_METRICS_H_
#define AGENTCOM_COMMON_STORAGE_TABLE_METRICS_H_

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/storage/table.h"

namespace agentcom::storage {

// Exposes per-table gauges (REQUIREMENTS M1), computed from Table::Stats()
// at scrape time so they are never stale:
//   agentcom_table_records, agentcom_table_disk_bytes,
//   agentcom_table_live_bytes, agentcom_table_fragmentation_ratio,
//   agentcom_table_state{state=...} (1 for the current state, 0 otherwise),
//   agentcom_table_degraded.
// Thread-safe; the tables must outlive it.
class TableMetrics final : public prometheus::Collectable {
 public:
  explicit TableMetrics(std::vector<Table*> tables) : tables_(std::move(tables)) {}
  std::vector<prometheus::MetricFamily> Collect() const override;
  // Stops reading the tables (before they are closed); later scrapes see
  // no table series. Waits for a scrape in progress.
  void Detach();

 private:
  mutable absl::Mutex mu_;
  std::vector<Table*> tables_ ABSL_GUARDED_BY(mu_);
};

// Lower-case state name without prefix: "ok", "corrupted", ...
std::string StateName(TableState state);

}  // namespace agentcom::storage

#endif  // AGENTCOM_COMMON_STORAGE_TABLE_METRICS_H_
