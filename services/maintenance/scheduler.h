#ifndef AGENTCOM_SERVICES_MAINTENANCE_SCHEDULER_H_
#define AGENTCOM_SERVICES_MAINTENANCE_SCHEDULER_H_

#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/clock/clock.h"
#include "services/maintenance/maintenance.h"

namespace agentcom::maintenance {

// Runs BackupAll every backup interval, CompactAll (threshold applies)
// every compaction interval and ScrubAll every scrub interval, the first of
// each `first_delay` after construction (REQUIREMENTS B1, C3; the scrub's
// first run one scrub interval after it). Runs happen one after another on one
// thread, so they never overlap. Time comes from the injected clock.
// Thread-safe.
class Scheduler {
 public:
  Scheduler(MaintenanceCore* core, Clock* clock, absl::Duration backup_interval,
            absl::Duration compaction_interval, absl::Duration first_delay,
            absl::Duration scrub_interval = absl::Hours(24));
  ~Scheduler();

  // Runs every job due at the clock's current time; returns their names
  // ("backup", "compaction", "scrub") in the order run.
  std::vector<std::string> RunDue();

  absl::Time next_backup() const;
  absl::Time next_compaction() const;

  // Calls RunDue every `poll` on a thread of its own until destruction.
  void Start(absl::Duration poll);

 private:
  MaintenanceCore* const core_;
  Clock* const clock_;
  const absl::Duration backup_interval_;
  const absl::Duration compaction_interval_;
  const absl::Duration scrub_interval_;
  mutable absl::Mutex mu_;
  absl::Time next_backup_ ABSL_GUARDED_BY(mu_);
  absl::Time next_compaction_ ABSL_GUARDED_BY(mu_);
  absl::Time next_scrub_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Mutex run_mu_;
  std::thread thread_;
};

}  // namespace agentcom::maintenance

#endif  // AGENTCOM_SERVICES_MAINTENANCE_SCHEDULER_H_
