#ifndef AGENTCOM_SERVICES_MESSAGE_HISTORY_MESSAGE_HISTORY_H_
#define AGENTCOM_SERVICES_MESSAGE_HISTORY_MESSAGE_HISTORY_H_

#include <array>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "agentcom/message_history/v1/message_history.pb.h"
#include "agentcom/topology/v1/topology.pb.h"
#include "common/clock/clock.h"
#include "common/storage/table.h"

namespace agentcom::message_history {

inline constexpr char kHistoryTable[] = "message_history";

// The message archive over one table (see message_history.proto). Knows
// nothing of gRPC.
//
//   'm' id                                        -> HistoryMessage
//   'a' agent 0x00 i64(time) id                   -> ""  from or to the agent
//   'b' agent 0x00 channel 0x00 i64(time) id      -> ""  agent on a channel
//   'c' channel 0x00 i64(time) id                 -> ""  on a channel
//   't' i64(time) id                              -> ""  everything
// A message and its index entries are one batch. Query scans exactly the
// index range its filter names, so its cost is the size of the answer.
// Thread-safe.
class MessageHistory {
 public:
  MessageHistory(storage::Table* table, topology::v1::Limits limits, Clock* clock)
      : table_(table), limits_(std::move(limits)), clock_(clock) {}

  absl::StatusOr<v1::StoreResponse> Store(const v1::StoreRequest& r);
  absl::StatusOr<v1::QueryResponse> Query(const v1::QueryRequest& r);

 private:
  static constexpr int kStripes = 64;

  storage::Table* const table_;
  const topology::v1::Limits limits_;
  Clock* const clock_;
  // Serialises Store of one id (existence check and write).
  std::array<absl::Mutex, kStripes> stripes_;
};

}  // namespace agentcom::message_history

#endif  // AGENTCOM_SERVICES_MESSAGE_HISTORY_MESSAGE_HISTORY_H_
