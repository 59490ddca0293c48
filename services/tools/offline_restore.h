#ifndef AGENTCOM_SERVICES_TOOLS_OFFLINE_RESTORE_H_
#define AGENTCOM_SERVICES_TOOLS_OFFLINE_RESTORE_H_

#include <ostream>
#include <string>

#include "common/config/topology.h"
#include "services/maintenance/restore_request.h"

namespace agentcom::tools {

// agentcomctl verify-backup: verifies backup `backup_id` of `table` (every
// backup of the table when empty) read-only, printing one line per backup.
// Returns the exit code: 0 when every one verifies, 1 when one does not or
// there is none, 2 for a bad argument.
int VerifyBackups(const config::Topology& topology, const std::string& table,
                  const std::string& backup_id, std::ostream& out, std::ostream& err);

// agentcomctl restore: restores `table` from `backup_id` (the newest backup
// that verifies when empty), or to `target.time`, while maintenance and the
// table's store are stopped, running maintenance's Restorer over the tables
// opened in this process (maintenance::OfflineStore). Refuses while
// maintenance answers at its address or the store holds the table. A dry
// run (`target.dry_run`) only reads, so it runs whatever is running.
// Prints the RestoreResult as JSON. Returns the exit code: 0 restored (or
// would be), 1 not (see the result), 2 for a bad argument or a running
// process.
int RestoreOffline(const config::Topology& topology, const std::string& table,
                   const std::string& backup_id, const maintenance::RestoreTarget& target,
                   std::ostream& out, std::ostream& err);

}  // namespace agentcom::tools

#endif  // AGENTCOM_SERVICES_TOOLS_OFFLINE_RESTORE_H_
