// The message_history store process: the message archive (table
// message_history).
#include "services/message_history/message_history_service.h"
#include "services/store_admin/store_process.h"

int main(int argc, char** argv) {
  return agentcom::store_admin::RunStoreMain(
      argc, argv, agentcom::message_history::MessageHistoryStoreDefinition());
}
