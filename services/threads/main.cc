// The threads store process: conversation threads (tables thread_messages
// and thread_replies).
#include "services/store_admin/store_process.h"
#include "services/threads/threads_service.h"

int main(int argc, char** argv) {
  return agentcom::store_admin::RunStoreMain(argc, argv,
                                             agentcom::threads::ThreadsStoreDefinition());
}
