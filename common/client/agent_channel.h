#ifndef AGENTCOM_COMMON_CLIENT_AGENT_CHANNEL_H_
#define AGENTCOM_COMMON_CLIENT_AGENT_CHANNEL_H_

// The channel settings recommended to agents (README "Recovery as an agent
// sees it"; measured in BENCHMARKS.md), so that a restart or a restore of a
// store costs an agent as little as possible:
//   - reconnect backoff 100 ms growing to at most 500 ms, instead of gRPC's
//     1 s growing by 1.6x (to 120 s): a store is back within a second, and
//     with the defaults a client whose reconnects failed a few times waits
//     seconds longer;
//   - waitForReady on every agent service: a call made while the channel
//     reconnects waits for it (up to the call's deadline) instead of
//     failing at once with UNAVAILABLE;
//   - a retry policy for UNAVAILABLE (a table being restored answers that
//     for a moment) on the calls that are safe to repeat: reads, Ack (up to
//     a seq), Watch (it resumes where asked), Subscribe/Unsubscribe, and
//     Submit/Put/Delete are left out since a retry after a lost answer
//     could apply them twice (Submit has idempotency keys for that).
// examples/agent_service_config.json holds the same service config for
// agents in other languages.

#include <grpcpp/channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <memory>
#include <string>

namespace agentcom::client {

// The service config above (gRPC's JSON form).
extern const char kAgentServiceConfig[];

// Channel arguments with the backoff and the service config above.
grpc::ChannelArguments AgentChannelArguments();

// A channel to `address` with AgentChannelArguments().
std::shared_ptr<grpc::Channel> AgentChannel(
    const std::string& address,
    std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials());

}  // namespace agentcom::client

#endif  // AGENTCOM_COMMON_CLIENT_AGENT_CHANNEL_H_
