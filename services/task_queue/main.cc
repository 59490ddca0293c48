// The task_queue store process: tasks with leases and dead letters (tables
// task_queue and task_dead_letter).
#include "services/store_admin/store_process.h"
#include "services/task_queue/task_queue_service.h"

int main(int argc, char** argv) {
  return agentcom::store_admin::RunStoreMain(argc, argv,
                                             agentcom::task_queue::TaskQueueStoreDefinition());
}
