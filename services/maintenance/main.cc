// The maintenance process: scheduled backups and compaction, automatic
// restore of corrupted tables through supervisord.
#include "services/maintenance/maintenance_process.h"

int main(int argc, char** argv) { return agentcom::maintenance::RunMaintenanceMain(argc, argv); }
