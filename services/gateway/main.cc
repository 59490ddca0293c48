// The gateway process: HTTP/JSON and WebSocket in front of maintenance, and
// the operator dashboard.
#include "services/gateway/gateway_process.h"

int main(int argc, char** argv) { return agentcom::gateway::RunGatewayMain(argc, argv); }
