#ifndef AGENTCOM_SERVICES_MAILBOX_MAILBOX_H_
#define AGENTCOM_SERVICES_MAILBOX_MAILBOX_H_

#include <array>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "agentcom/mailbox/v1/mailbox.pb.h"
#include "agentcom/topology/v1/topology.pb.h"
#include "common/clock/clock.h"
#include "common/server/api_checks.h"
#include "common/storage/queued_values.h"
#include "common/storage/table.h"

namespace agentcom::mailbox {

inline constexpr char kMailboxTable[] = "agent_mailbox";

// Per-agent ordered inboxes over one table (see mailbox.proto for the
// contract). Knows nothing of gRPC. Thread-safe.
//
// Layout in the table:
//   'q' agent_id 0x00 big-endian-u64(seq) -> Message
//   's' agent_id                          -> big-endian-u64(last seq issued)
// The sequence record is kept even when every message has been acked, so a
// sequence number is never issued twice; it and the message are written in
// one batch, so a crash leaves both or neither.
class Mailbox {
 public:
  // `clock` stamps enqueue times; not owned.
  Mailbox(storage::Table* table, topology::v1::Limits limits, Clock* clock)
      : table_(table), limits_(std::move(limits)), clock_(clock) {}

  // Answers once the message has committed, without the caller waiting.
  void EnqueueAsync(const v1::EnqueueRequest& request, server::Reply<v1::EnqueueResponse> reply);
  absl::StatusOr<v1::EnqueueResponse> Enqueue(const v1::EnqueueRequest& request);
  absl::StatusOr<v1::PollResponse> Poll(const v1::PollRequest& request);
  absl::StatusOr<v1::AckResponse> Ack(const v1::AckRequest& request);
  // INVALID_ARGUMENT when `agent` is not a valid agent id.
  absl::Status CheckAgent(absl::string_view agent) const;

 private:
  // An agent's enqueues hold its stripe while they take the next sequence
  // number (after the last one queued, see queued_) and queue their write,
  // not through its sync: its numbers are issued and committed in order,
  // and every agent's writes share the table's group commit. Many stripes,
  // so two agents rarely share one.
  static constexpr int kStripes = 1024;
  absl::Status CheckMessage(const v1::Message& message) const;

  storage::Table* const table_;
  const topology::v1::Limits limits_;
  Clock* const clock_;
  // Serialises sequence assignment per agent (by hash stripe).
  std::array<absl::Mutex, kStripes> stripes_;
  // The last sequence number of each agent whose enqueues are queued.
  storage::QueuedValues<uint64_t> queued_;
};

}  // namespace agentcom::mailbox

#endif  // AGENTCOM_SERVICES_MAILBOX_MAILBOX_H_
