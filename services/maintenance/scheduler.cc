#include "services/maintenance/scheduler.h"

#include "common/logging/log.h"

namespace agentcom::maintenance {

Scheduler::Scheduler(MaintenanceCore* core, Clock* clock, absl::Duration backup_interval,
                     absl::Duration compaction_interval, absl::Duration first_delay,
                     absl::Duration scrub_interval)
    : core_(core),
      clock_(clock),
      backup_interval_(backup_interval),
      compaction_interval_(compaction_interval),
      scrub_interval_(scrub_interval) {
  const absl::Time first = clock_->Now() + first_delay;
  next_backup_ = first;
  next_compaction_ = first;
  next_scrub_ = clock_->Now() + scrub_interval_;
}

Scheduler::~Scheduler() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

absl::Time Scheduler::next_backup() const {
  absl::MutexLock l(&mu_);
  return next_backup_;
}

absl::Time Scheduler::next_compaction() const {
  absl::MutexLock l(&mu_);
  return next_compaction_;
}

std::vector<std::string> Scheduler::RunDue() {
  absl::MutexLock run(&run_mu_);
  std::vector<std::string> ran;
  bool backup_due, compaction_due, scrub_due;
  {
    absl::MutexLock l(&mu_);
    const absl::Time now = clock_->Now();
    backup_due = now >= next_backup_;
    compaction_due = now >= next_compaction_;
    scrub_due = now >= next_scrub_;
  }
  if (backup_due) {
    v1::BackupRun r = core_->BackupAll(v1::TRIGGER_SCHEDULED);
    ran.push_back("backup");
    absl::MutexLock l(&mu_);
    // Measured from when the run ends: a slow run never triggers the next
    // one immediately.
    next_backup_ = clock_->Now() + backup_interval_;
  }
  if (compaction_due) {
    v1::CompactionRun r = core_->CompactAll(false, v1::TRIGGER_SCHEDULED);
    ran.push_back("compaction");
    absl::MutexLock l(&mu_);
    next_compaction_ = clock_->Now() + compaction_interval_;
  }
  if (scrub_due) {
    core_->ScrubAll();
    ran.push_back("scrub");
    absl::MutexLock l(&mu_);
    next_scrub_ = clock_->Now() + scrub_interval_;
  }
  return ran;
}

void Scheduler::Start(absl::Duration poll) {
  thread_ = std::thread([this, poll] {
    auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
    while (true) {
      {
        absl::MutexLock l(&mu_);
        if (clock_->AwaitWithDeadline(&mu_, absl::Condition(&stopping), clock_->Now() + poll)) {
          return;
        }
      }
      RunDue();
    }
  });
}

}  // namespace agentcom::maintenance
