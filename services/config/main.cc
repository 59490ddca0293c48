// The config store process: versioned settings (table agentcom_config).
#include "services/config/config_service.h"
#include "services/store_admin/store_process.h"

int main(int argc, char** argv) {
  return agentcom::store_admin::RunStoreMain(
      argc, argv, agentcom::config_store::ConfigStoreDefinition());
}
