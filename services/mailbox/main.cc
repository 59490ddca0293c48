// The mailbox store process: per-agent inboxes (table agent_mailbox).
#include "services/mailbox/mailbox_service.h"
#include "services/store_admin/store_process.h"

int main(int argc, char** argv) {
  return agentcom::store_admin::RunStoreMain(
      argc, argv, agentcom::mailbox::MailboxStoreDefinition());
}
