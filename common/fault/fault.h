#ifndef AGENTCOM_COMMON_FAULT_FAULT_H_
#define AGENTCOM_COMMON_FAULT_FAULT_H_

#include "absl/strings/string_view.h"

namespace agentcom::fault {

// Fault injection for the fault suite (tests/integration/fault_test.cc).
// With AGENTCOM_FAULT_KILL_AT=<point>:<marker file> in its environment, a
// process SIGKILLs itself when it reaches <point>, once: it first creates
// the marker file, and a marker that exists disarms the point, so the
// process supervisord restarts runs on. Points: the restore steps
// ("stopping", "quarantining", "installing", "starting", "verifying",
// "serving", and "degrading", "starting_empty" for degraded mode),
// "backup" (maintenance, a snapshot written but not yet verified),
// "compaction" (maintenance, a compaction done but not yet recorded) and
// "snapshot" (a store, backup files written but not yet committed) and
// "shipping" (a store, bytes appended to a shipped log but not fsynced).
// Without the variable this is a no-op.
void KillHereIfAsked(absl::string_view point);

}  // namespace agentcom::fault

#endif  // AGENTCOM_COMMON_FAULT_FAULT_H_
