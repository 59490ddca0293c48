#include "common/client/agent_channel.h"

#include <grpc/impl/codegen/grpc_types.h>
#include <grpcpp/create_channel.h>

namespace agentcom::client {

const char kAgentServiceConfig[] = R"json({
  "methodConfig": [
    {
      "name": [
        {"service": "agentcom.mailbox.v1.Mailbox"},
        {"service": "agentcom.channels.v1.Channels"},
        {"service": "agentcom.config.v1.Config"},
        {"service": "agentcom.task_queue.v1.TaskQueue"},
        {"service": "agentcom.threads.v1.Threads"},
        {"service": "agentcom.message_history.v1.MessageHistory"}
      ],
      "waitForReady": true
    },
    {
      "name": [
        {"service": "agentcom.mailbox.v1.Mailbox", "method": "Poll"},
        {"service": "agentcom.mailbox.v1.Mailbox", "method": "Ack"},
        {"service": "agentcom.mailbox.v1.Mailbox", "method": "Watch"},
        {"service": "agentcom.channels.v1.Channels", "method": "Subscribe"},
        {"service": "agentcom.channels.v1.Channels", "method": "Unsubscribe"},
        {"service": "agentcom.channels.v1.Channels", "method": "ListSubscribers"},
        {"service": "agentcom.channels.v1.Channels", "method": "History"},
        {"service": "agentcom.channels.v1.Channels", "method": "Watch"},
        {"service": "agentcom.config.v1.Config", "method": "Get"},
        {"service": "agentcom.config.v1.Config", "method": "List"},
        {"service": "agentcom.task_queue.v1.TaskQueue", "method": "Get"},
        {"service": "agentcom.task_queue.v1.TaskQueue", "method": "List"},
        {"service": "agentcom.threads.v1.Threads", "method": "GetThread"},
        {"service": "agentcom.threads.v1.Threads", "method": "GetReplies"},
        {"service": "agentcom.message_history.v1.MessageHistory", "method": "Query"}
      ],
      "waitForReady": true,
      "retryPolicy": {
        "maxAttempts": 5,
        "initialBackoff": "0.1s",
        "maxBackoff": "0.5s",
        "backoffMultiplier": 2,
        "retryableStatusCodes": ["UNAVAILABLE"]
      }
    }
  ]
})json";

grpc::ChannelArguments AgentChannelArguments() {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 1);
  args.SetServiceConfigJSON(kAgentServiceConfig);
  return args;
}

std::shared_ptr<grpc::Channel> AgentChannel(const std::string& address,
                                            std::shared_ptr<grpc::ChannelCredentials> credentials) {
  return grpc::CreateCustomChannel(address, std::move(credentials), AgentChannelArguments());
}

}  // namespace agentcom::client
