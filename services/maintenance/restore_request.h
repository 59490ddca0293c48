#ifndef AGENTCOM_SERVICES_MAINTENANCE_RESTORE_REQUEST_H_
#define AGENTCOM_SERVICES_MAINTENANCE_RESTORE_REQUEST_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "agentcom/maintenance/v1/state.pb.h"

namespace agentcom::maintenance {

// One restore to run (RestoreQueue -> MaintenanceCore -> Restorer).
struct RestoreRequest {
  std::string table;
  // Empty: the newest backup that verifies.
  std::string backup_id = {};
  v1::Trigger trigger = v1::TRIGGER_MANUAL;
  // The journal of a restore of this table that a crash interrupted.
  std::optional<v1::RestoreJournal> resume = std::nullopt;
  // What the table held when its store found it corrupted, when known.
  std::optional<uint64_t> records_at_corruption = std::nullopt;
  // A point-in-time restore: the table as it was after the last batch
  // committed at or before this time.
  std::optional<absl::Time> target_time = std::nullopt;
};

// What a manual restore asks for beyond the table and backup
// (RestoreTableRequest): a point in time, or only a dry run.
struct RestoreTarget {
  std::optional<absl::Time> time = std::nullopt;
  bool dry_run = false;
};

}  // namespace agentcom::maintenance

#endif  // AGENTCOM_SERVICES_MAINTENANCE_RESTORE_REQUEST_H_
