#ifndef AGENTCOM_SERVICES_CHANNELS_CHANNELS_H_
#define AGENTCOM_SERVICES_CHANNELS_CHANNELS_H_

#include <array>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "agentcom/channels/v1/channels.pb.h"
#include "agentcom/topology/v1/topology.pb.h"
#include "common/clock/clock.h"
#include "common/server/api_checks.h"
#include "common/storage/queued_values.h"
#include "common/storage/table.h"

namespace agentcom::channels {

inline constexpr char kSubscriptionsTable[] = "agent_channels";
inline constexpr char kHistoryTable[] = "channel_history";

// Pub/sub channels over two tables (see channels.proto for the contract).
// Knows nothing of gRPC.
//
// agent_channels:  's' channel 0x00 agent_id   -> ""
// channel_history: 'm' channel 0x00 u64(seq)   -> ChannelMessage
//                  'n' channel                 -> u64(last seq issued)
// No operation writes both tables, so every change is one batch. Publish
// reads the subscribers under the same per-channel lock as Subscribe and
// Unsubscribe, so the list it returns is exactly the set at publish time.
// Thread-safe.
class Channels {
 public:
  Channels(storage::Table* subscriptions, storage::Table* history, topology::v1::Limits limits,
           Clock* clock)
      : subscriptions_(subscriptions),
        history_(history),
        limits_(std::move(limits)),
        clock_(clock) {}

  absl::StatusOr<v1::SubscribeResponse> Subscribe(const v1::SubscribeRequest& r);
  absl::StatusOr<v1::UnsubscribeResponse> Unsubscribe(const v1::UnsubscribeRequest& r);
  absl::StatusOr<v1::ListSubscribersResponse> ListSubscribers(const v1::ListSubscribersRequest& r);
  // Answers once the message has committed, without the caller waiting.
  void PublishAsync(const v1::PublishRequest& r, server::Reply<v1::PublishResponse> reply);
  absl::StatusOr<v1::PublishResponse> Publish(const v1::PublishRequest& r);
  absl::StatusOr<v1::HistoryResponse> History(const v1::HistoryRequest& r);
  // INVALID_ARGUMENT when `channel` is not a valid channel name.
  absl::Status CheckChannel(absl::string_view channel) const;

 private:
  // As the mailbox's: a channel's publishes take their numbers and queue
  // their writes in order under its stripe (not through the sync), after
  // the last number queued (queued_); every channel shares the table's
  // group commit.
  static constexpr int kStripes = 1024;
  absl::Mutex& LockFor(const std::string& channel);
  absl::Status CheckPair(const std::string& channel, const std::string& agent) const;

  storage::Table* const subscriptions_;
  storage::Table* const history_;
  const topology::v1::Limits limits_;
  Clock* const clock_;
  std::array<absl::Mutex, kStripes> stripes_;
  // The last sequence number of each channel whose publishes are queued.
  storage::QueuedValues<uint64_t> queued_;
};

}  // namespace agentcom::channels

#endif  // AGENTCOM_SERVICES_CHANNELS_CHANNELS_H_
