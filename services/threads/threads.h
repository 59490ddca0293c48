#ifndef AGENTCOM_SERVICES_THREADS_THREADS_H_
#define AGENTCOM_SERVICES_THREADS_THREADS_H_

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "agentcom/threads/v1/threads.pb.h"
#include "agentcom/topology/v1/topology.pb.h"
#include "common/clock/clock.h"
#include "common/storage/linked_writer.h"
#include "common/storage/table.h"

namespace agentcom::threads {

inline constexpr char kMessagesTable[] = "thread_messages";
inline constexpr char kRepliesTable[] = "thread_replies";

// Conversation threads over two tables (see threads.proto for the contract).
// Knows nothing of gRPC.
//
// thread_messages: 'm' id                               -> ThreadMessage
//                  'r' root 0x00 i64(time) id           -> ""  thread order
// thread_replies:  'p' parent 0x00 i64(time) id         -> ""  direct replies
// A reply touches both tables: the message and its thread index are one
// batch in thread_messages carrying a storage::LinkedWriter intent for the
// reply index, which Recover() replays after a crash.
// Thread-safe: Index is serialised (the existence checks and the write must
// not interleave); reads are not.
class Threads {
 public:
  Threads(storage::Table* messages, storage::Table* replies, topology::v1::Limits limits,
          Clock* clock)
      : messages_(messages), replies_(replies), limits_(std::move(limits)), clock_(clock),
        linked_(messages, replies) {}

  absl::Status Recover();
  absl::StatusOr<v1::IndexResponse> Index(const v1::IndexRequest& r);
  absl::StatusOr<v1::GetThreadResponse> GetThread(const v1::GetThreadRequest& r);
  absl::StatusOr<v1::GetRepliesResponse> GetReplies(const v1::GetRepliesRequest& r);

 private:
  absl::StatusOr<std::optional<v1::ThreadMessage>> Load(const std::string& id);
  // Loads the messages whose ids end the index keys under `prefix`, a page
  // at a time.
  absl::Status Page(storage::Table* table, const std::string& prefix,
                    const std::string& query, uint32_t page_size, const std::string& token,
                    google::protobuf::RepeatedPtrField<v1::ThreadMessage>* out,
                    std::string* next_token);

  storage::Table* const messages_;
  storage::Table* const replies_;
  const topology::v1::Limits limits_;
  Clock* const clock_;
  storage::LinkedWriter linked_;
  absl::Mutex index_mu_;
};

}  // namespace agentcom::threads

#endif  // AGENTCOM_SERVICES_THREADS_THREADS_H_
