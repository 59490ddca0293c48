#ifndef AGENTCOM_SERVICES_MAINTENANCE_MAINTENANCE_METRICS_H_
#define AGENTCOM_SERVICES_MAINTENANCE_MAINTENANCE_METRICS_H_

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "agentcom/maintenance/v1/maintenance.pb.h"
#include "agentcom/maintenance/v1/state.pb.h"

namespace agentcom::maintenance {

// "auto", "manual", "scheduled": how triggers appear in the API, events and
// metric labels.
const char* TriggerName(v1::Trigger trigger);

// Maintenance's Prometheus series (REQUIREMENTS M1): backups, compactions,
// corruption reports, recoveries and degraded tables, labelled by table.
// Every series of every table exists from construction (at 0), so alerts
// and dashboards see zeros rather than gaps. Thread-safe (prometheus-cpp's
// metrics are).
class MaintenanceMetrics {
 public:
  // Registers in `registry`, which must outlive this; nullptr keeps the
  // series in a private registry that nothing scrapes (tests).
  MaintenanceMetrics(prometheus::Registry* registry, const std::vector<std::string>& tables);

  void BackupSucceeded(const std::string& table, absl::Time taken, double seconds);
  void BackupFailed(const std::string& table, double seconds);
  void BackupsRetained(const std::string& table, size_t count);
  // A compaction that ran or was skipped; skipped ones have no duration.
  void Compaction(const std::string& table, v1::CompactionOutcome outcome, double seconds);
  void CorruptionReported(const std::string& table);
  // A finished restore; also sets the table's degraded gauge.
  void Recovery(const std::string& table, v1::Trigger trigger, v1::RestoreOutcome outcome,
                double seconds);
  // Writes a restore replayed from the write-ahead logs, and those it knows
  // were lost.
  void Replay(const std::string& table, uint64_t replayed, uint64_t lost);
  // A scrub of the table's backup pool: files found damaged, of them
  // repaired from the live table.
  void Scrub(const std::string& table, absl::Time at, uint64_t damaged, uint64_t repaired);
  // The off-host copies (maintenance.remote_backup): the bound the
  // AgentcomRemoteBackupBehind alert compares with, and each round of a
  // table: bytes uploaded, whether it failed, the time through which every
  // local file is remote (InfinitePast: never), the bytes still to upload.
  void RemoteConfigured(absl::Duration max_lag);
  void RemoteRound(const std::string& table, uint64_t uploaded, bool failed, absl::Time through,
                   uint64_t pending);

 private:
  std::unique_ptr<prometheus::Registry> own_registry_;
  prometheus::Registry& registry_;
  prometheus::Family<prometheus::Gauge>& backup_last_success_;
  prometheus::Family<prometheus::Gauge>& backup_duration_;
  prometheus::Family<prometheus::Gauge>& backups_retained_;
  prometheus::Family<prometheus::Counter>& backup_failures_;
  prometheus::Family<prometheus::Counter>& compactions_;
  prometheus::Family<prometheus::Histogram>& compaction_duration_;
  prometheus::Family<prometheus::Counter>& recoveries_;
  prometheus::Family<prometheus::Histogram>& recovery_duration_;
  prometheus::Family<prometheus::Gauge>& degraded_;
  prometheus::Family<prometheus::Counter>& corruption_reports_;
  prometheus::Family<prometheus::Counter>& replayed_operations_;
  prometheus::Family<prometheus::Counter>& lost_operations_;
  prometheus::Family<prometheus::Gauge>& scrub_last_;
  prometheus::Family<prometheus::Counter>& scrub_damaged_;
  prometheus::Family<prometheus::Counter>& scrub_repaired_;
  prometheus::Family<prometheus::Gauge>& remote_max_lag_;
  prometheus::Family<prometheus::Gauge>& remote_through_;
  prometheus::Family<prometheus::Gauge>& remote_pending_;
  prometheus::Family<prometheus::Counter>& remote_uploaded_;
  prometheus::Family<prometheus::Counter>& remote_failures_;
};

}  // namespace agentcom::maintenance

#endif  // AGENTCOM_SERVICES_MAINTENANCE_MAINTENANCE_METRICS_H_
