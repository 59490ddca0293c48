#include "services/maintenance/maintenance_metrics.h"

namespace agentcom::maintenance {
namespace {

prometheus::Histogram::BucketBoundaries Buckets() {
  return {0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600};
}

const char* OutcomeName(v1::CompactionOutcome outcome) {
  switch (outcome) {
    case v1::COMPACTION_OUTCOME_COMPACTED:
      return "compacted";
    case v1::COMPACTION_OUTCOME_SKIPPED:
      return "skipped";
    default:
      return "error";
  }
}

const char* OutcomeName(v1::RestoreOutcome outcome) {
  switch (outcome) {
    case v1::RESTORE_OUTCOME_RESTORED:
      return "restored";
    case v1::RESTORE_OUTCOME_DEGRADED:
      return "degraded";
    default:
      return "failed";
  }
}

}  // namespace

const char* TriggerName(v1::Trigger trigger) {
  switch (trigger) {
    case v1::TRIGGER_AUTO:
      return "auto";
    case v1::TRIGGER_SCHEDULED:
      return "scheduled";
    default:
      return "manual";
  }
}

MaintenanceMetrics::MaintenanceMetrics(prometheus::Registry* registry,
                                       const std::vector<std::string>& tables)
    : own_registry_(registry != nullptr ? nullptr : std::make_unique<prometheus::Registry>()),
      registry_(registry != nullptr ? *registry : *own_registry_),
      backup_last_success_(prometheus::BuildGauge()
                               .Name("agentcom_backup_last_success_timestamp_seconds")
                               .Help("Unix time of the table's last verified backup.")
                               .Register(registry_)),
      backup_duration_(prometheus::BuildGauge()
                           .Name("agentcom_backup_last_duration_seconds")
                           .Help("Duration of the table's last backup attempt.")
                           .Register(registry_)),
      backups_retained_(prometheus::BuildGauge()
                            .Name("agentcom_backups_retained")
                            .Help("Backups of the table on disk after retention.")
                            .Register(registry_)),
      backup_failures_(prometheus::BuildCounter()
                           .Name("agentcom_backup_failures_total")
                           .Help("Failed backups of the table.")
                           .Register(registry_)),
      compactions_(prometheus::BuildCounter()
                       .Name("agentcom_compactions_total")
                       .Help("Compaction attempts by table and result.")
                       .Register(registry_)),
      compaction_duration_(prometheus::BuildHistogram()
                               .Name("agentcom_compaction_duration_seconds")
                               .Help("Duration of compactions that ran.")
                               .Register(registry_)),
      recoveries_(prometheus::BuildCounter()
                      .Name("agentcom_recoveries_total")
                      .Help("Restores by table, trigger (auto, manual) and result.")
                      .Register(registry_)),
      recovery_duration_(prometheus::BuildHistogram()
                             .Name("agentcom_recovery_duration_seconds")
                             .Help("Time from the start of a restore to verified serving.")
                             .Register(registry_)),
      degraded_(prometheus::BuildGauge()
                    .Name("agentcom_table_degraded")
                    .Help("1 when the table was restored empty because no backup was usable.")
                    .Register(registry_)),
      corruption_reports_(prometheus::BuildCounter()
                              .Name("agentcom_corruption_reports_total")
                              .Help("Corruption reports received from stores.")
                              .Register(registry_)),
      replayed_operations_(
          prometheus::BuildCounter()
              .Name("agentcom_restore_replayed_operations_total")
              .Help("Writes restores replayed from write-ahead logs onto a backup.")
              .Register(registry_)),
      lost_operations_(prometheus::BuildCounter()
                           .Name("agentcom_restore_lost_operations_total")
                           .Help("Writes restores could not bring back (damaged or missing logs).")
                           .Register(registry_)),
      scrub_last_(prometheus::BuildGauge()
                      .Name("agentcom_scrub_last_timestamp_seconds")
                      .Help("Time of the last scrub of the table's backup pool.")
                      .Register(registry_)),
      scrub_damaged_(prometheus::BuildCounter()
                         .Name("agentcom_scrub_damaged_files_total")
                         .Help("Backup pool files scrubs found missing or damaged.")
                         .Register(registry_)),
      scrub_repaired_(prometheus::BuildCounter()
                          .Name("agentcom_scrub_repaired_files_total")
                          .Help("Damaged backup pool files replaced from the live table.")
                          .Register(registry_)),
      remote_max_lag_(prometheus::BuildGauge()
                          .Name("agentcom_remote_backup_max_lag_seconds")
                          .Help("The configured bound on the age of the newest complete remote "
                                "copy (maintenance.remote_backup.max_lag_seconds).")
                          .Register(registry_)),
      remote_through_(prometheus::BuildGauge()
                          .Name("agentcom_remote_backup_through_timestamp_seconds")
                          .Help("Every file the table's local backup directory held at this Unix "
                                "time is at the remote destination (0: not yet).")
                          .Register(registry_)),
      remote_pending_(prometheus::BuildGauge()
                          .Name("agentcom_remote_backup_pending_bytes")
                          .Help("Bytes of the table's backups and logs not uploaded yet.")
                          .Register(registry_)),
      remote_uploaded_(prometheus::BuildCounter()
                           .Name("agentcom_remote_backup_uploaded_bytes_total")
                           .Help("Bytes of backups and logs uploaded to the remote destination.")
                           .Register(registry_)),
      remote_failures_(prometheus::BuildCounter()
                           .Name("agentcom_remote_backup_failures_total")
                           .Help("Upload rounds to the remote destination that failed.")
                           .Register(registry_)) {
  for (const std::string& table : tables) {
    backup_failures_.Add({{"table", table}});
    backups_retained_.Add({{"table", table}});
    degraded_.Add({{"table", table}});
    corruption_reports_.Add({{"table", table}});
    replayed_operations_.Add({{"table", table}});
    lost_operations_.Add({{"table", table}});
    scrub_damaged_.Add({{"table", table}});
    scrub_repaired_.Add({{"table", table}});
    compaction_duration_.Add({{"table", table}}, Buckets());
    recovery_duration_.Add({{"table", table}}, Buckets());
    for (v1::Trigger trigger : {v1::TRIGGER_AUTO, v1::TRIGGER_MANUAL}) {
      for (v1::RestoreOutcome outcome : {v1::RESTORE_OUTCOME_RESTORED, v1::RESTORE_OUTCOME_DEGRADED,
                                         v1::RESTORE_OUTCOME_FAILED}) {
        recoveries_.Add({{"table", table},
                         {"trigger", TriggerName(trigger)},
                         {"result", OutcomeName(outcome)}});
      }
    }
    for (v1::CompactionOutcome outcome :
         {v1::COMPACTION_OUTCOME_COMPACTED, v1::COMPACTION_OUTCOME_SKIPPED,
          v1::COMPACTION_OUTCOME_ERROR}) {
      compactions_.Add({{"table", table}, {"result", OutcomeName(outcome)}});
    }
  }
}

void MaintenanceMetrics::BackupSucceeded(const std::string& table, absl::Time taken,
                                         double seconds) {
  backup_last_success_.Add({{"table", table}})
      .Set(absl::ToDoubleSeconds(taken - absl::UnixEpoch()));
  backup_duration_.Add({{"table", table}}).Set(seconds);
}

void MaintenanceMetrics::BackupFailed(const std::string& table, double seconds) {
  backup_failures_.Add({{"table", table}}).Increment();
  backup_duration_.Add({{"table", table}}).Set(seconds);
}

void MaintenanceMetrics::BackupsRetained(const std::string& table, size_t count) {
  backups_retained_.Add({{"table", table}}).Set(static_cast<double>(count));
}

void MaintenanceMetrics::Compaction(const std::string& table, v1::CompactionOutcome outcome,
                                    double seconds) {
  compactions_.Add({{"table", table}, {"result", OutcomeName(outcome)}}).Increment();
  if (outcome != v1::COMPACTION_OUTCOME_SKIPPED) {
    compaction_duration_.Add({{"table", table}}, Buckets()).Observe(seconds);
  }
}

void MaintenanceMetrics::CorruptionReported(const std::string& table) {
  corruption_reports_.Add({{"table", table}}).Increment();
}

void MaintenanceMetrics::Recovery(const std::string& table, v1::Trigger trigger,
                                  v1::RestoreOutcome outcome, double seconds) {
  recoveries_
      .Add({{"table", table}, {"trigger", TriggerName(trigger)}, {"result", OutcomeName(outcome)}})
      .Increment();
  recovery_duration_.Add({{"table", table}}, Buckets()).Observe(seconds);
  degraded_.Add({{"table", table}}).Set(outcome == v1::RESTORE_OUTCOME_DEGRADED ? 1 : 0);
}

void MaintenanceMetrics::Replay(const std::string& table, uint64_t replayed, uint64_t lost) {
  replayed_operations_.Add({{"table", table}}).Increment(static_cast<double>(replayed));
  lost_operations_.Add({{"table", table}}).Increment(static_cast<double>(lost));
}

void MaintenanceMetrics::Scrub(const std::string& table, absl::Time at, uint64_t damaged,
                               uint64_t repaired) {
  scrub_last_.Add({{"table", table}}).Set(absl::ToDoubleSeconds(at - absl::UnixEpoch()));
  scrub_damaged_.Add({{"table", table}}).Increment(static_cast<double>(damaged));
  scrub_repaired_.Add({{"table", table}}).Increment(static_cast<double>(repaired));
}

void MaintenanceMetrics::RemoteConfigured(absl::Duration max_lag) {
  remote_max_lag_.Add({}).Set(absl::ToDoubleSeconds(max_lag));
}

void MaintenanceMetrics::RemoteRound(const std::string& table, uint64_t uploaded, bool failed,
                                     absl::Time through, uint64_t pending) {
  remote_uploaded_.Add({{"table", table}}).Increment(static_cast<double>(uploaded));
  prometheus::Counter& failures = remote_failures_.Add({{"table", table}});
  if (failed) failures.Increment();
  remote_through_.Add({{"table", table}})
      .Set(through == absl::InfinitePast() ? 0
                                           : absl::ToDoubleSeconds(through - absl::UnixEpoch()));
  remote_pending_.Add({{"table", table}}).Set(static_cast<double>(pending));
}

}  // namespace agentcom::maintenance
