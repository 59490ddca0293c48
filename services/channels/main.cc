// The channels store process: pub/sub with history (tables agent_channels
// and channel_history).
#include "services/channels/channels_service.h"
#include "services/store_admin/store_process.h"

int main(int argc, char** argv) {
  return agentcom::store_admin::RunStoreMain(
      argc, argv, agentcom::channels::ChannelsStoreDefinition());
}
