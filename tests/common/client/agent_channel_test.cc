// The recommended agent channel (common/client/agent_channel.h): gRPC
// accepts its service config, so a call made while the store is down waits
// for it instead of failing at once as on a default channel.
#include "common/client/agent_channel.h"

#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agentcom/mailbox/v1/mailbox.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/support/test_support.h"

namespace agentcom::client {
namespace {

grpc::Status PollWithin(std::shared_ptr<grpc::Channel> channel, absl::Duration deadline) {
  auto mailbox = mailbox::v1::Mailbox::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
  mailbox::v1::PollRequest r;
  r.set_agent_id("alice");
  mailbox::v1::PollResponse out;
  return mailbox->Poll(&ctx, r, &out);
}

TEST(AgentChannelTest, ACallWhileTheStoreIsDownWaitsForItInsteadOfFailing) {
  const std::string address = absl::StrCat("127.0.0.1:", testing::FreePort());  // nobody there
  EXPECT_EQ(
      PollWithin(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()), absl::Seconds(2))
          .error_code(),
      grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(PollWithin(AgentChannel(address), absl::Milliseconds(300)).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
}

}  // namespace
}  // namespace agentcom::client
