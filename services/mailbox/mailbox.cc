#include "services/mailbox/mailbox.h"

#include <vector>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "common/ids/random_id.h"
#include "common/server/api_checks.h"
#include "common/storage/keys.h"
#include "common/storage/records.h"

namespace agentcom::mailbox {
namespace {

constexpr uint32_t kDefaultPoll = 100;
constexpr uint32_t kMaxPoll = 1000;
// Poll pages stop after about this many bytes of messages (at least one).
constexpr size_t kMaxPollBytes = size_t{3} << 20;
constexpr int kMaxHeaders = 64;
constexpr size_t kAckChunk = 10000;

std::string SeqKey(absl::string_view agent) { return absl::StrCat("s", agent); }
std::string QueuePrefix(absl::string_view agent) { return absl::StrCat("q", agent, storage::kSep); }
std::string QueueEnd(absl::string_view agent) { return absl::StrCat("q", agent, storage::kSepEnd); }
std::string MessageKey(absl::string_view agent, uint64_t seq) {
  return absl::StrCat(QueuePrefix(agent), storage::EncodeU64(seq));
}

}  // namespace

absl::Status Mailbox::CheckMessage(const v1::Message& m) const {
  if (auto s = server::CheckId("message.id", m.id(), limits_.max_id_bytes(), true); !s.ok()) {
    return s;
  }
  if (auto s = server::CheckId("message.from", m.from(), limits_.max_id_bytes(), true); !s.ok()) {
    return s;
  }
  if (m.headers_size() > kMaxHeaders) {
    return absl::InvalidArgumentError(absl::StrCat("message.headers has ", m.headers_size(),
                                                   " entries; the limit is ", kMaxHeaders));
  }
  size_t size = m.body().size();
  for (const auto& [k, v] : m.headers()) {
    if (k.empty()) return absl::InvalidArgumentError("message.headers has an empty key");
    size += k.size() + v.size();
  }
  return server::CheckSize("message body plus headers", size, limits_.max_body_bytes());
}

absl::Status Mailbox::CheckAgent(absl::string_view agent) const {
  return server::CheckId("agent_id", agent, limits_.max_id_bytes());
}

void Mailbox::EnqueueAsync(const v1::EnqueueRequest& request,
                           server::Reply<v1::EnqueueResponse> reply) {
  const std::string& agent = request.agent_id();
  if (auto s = server::CheckId("agent_id", agent, limits_.max_id_bytes()); !s.ok()) {
    return reply(s);
  }
  if (auto s = CheckMessage(request.message()); !s.ok()) return reply(s);

  v1::Message message = request.message();
  if (message.id().empty()) {
    absl::StatusOr<std::string> id = ids::RandomHex(12);
    if (!id.ok()) return reply(id.status());
    message.set_id(*std::move(id));
  }
  *message.mutable_enqueue_time() = server::ToProtoTime(clock_->Now());

  absl::MutexLock lock(&stripes_[absl::Hash<std::string>()(agent) % kStripes]);
  absl::StatusOr<uint64_t> next = storage::NextSequence(*table_, queued_, agent, SeqKey(agent));
  if (!next.ok()) return reply(next.status());
  const uint64_t seq = *next;
  message.set_seq(seq);
  storage::TableBatch batch;
  batch.Put(SeqKey(agent), storage::EncodeU64(seq));
  batch.Put(MessageKey(agent, seq), message.SerializeAsString());
  v1::EnqueueResponse response;
  response.set_seq(seq);
  response.set_id(message.id());
  queued_.Write(*table_, agent, seq, std::move(batch), response, std::move(reply));
}

absl::StatusOr<v1::EnqueueResponse> Mailbox::Enqueue(const v1::EnqueueRequest& request) {
  return server::AwaitReply<v1::EnqueueResponse>(
      [&](server::Reply<v1::EnqueueResponse> reply) { EnqueueAsync(request, std::move(reply)); });
}

absl::StatusOr<v1::PollResponse> Mailbox::Poll(const v1::PollRequest& request) {
  const std::string& agent = request.agent_id();
  if (auto s = server::CheckId("agent_id", agent, limits_.max_id_bytes()); !s.ok()) return s;
  absl::StatusOr<uint32_t> max =
      server::PageSize("max_messages", request.max_messages(), kDefaultPoll, kMaxPoll);
  if (!max.ok()) return max.status();
  if (request.after_seq() == UINT64_MAX) return v1::PollResponse();

  v1::PollResponse response;
  size_t bytes = 0;
  absl::Status parse_error;
  absl::Status s = table_->Scan(
      MessageKey(agent, request.after_seq() + 1), QueueEnd(agent),
      [&](absl::string_view key, absl::string_view value) {
        // Pages stop at a byte budget as well, so a page of large messages
        // fits a client's default 4 MiB receive limit.
        if (static_cast<uint32_t>(response.messages_size()) == *max ||
            (response.messages_size() > 0 && bytes + value.size() > kMaxPollBytes)) {
          response.set_has_more(true);
          return false;
        }
        bytes += value.size();
        parse_error = storage::ParseRecord(*table_, key, value, response.add_messages());
        return parse_error.ok();
      });
  if (!s.ok()) return s;
  if (!parse_error.ok()) return parse_error;
  return response;
}

absl::StatusOr<v1::AckResponse> Mailbox::Ack(const v1::AckRequest& request) {
  const std::string& agent = request.agent_id();
  if (auto s = server::CheckId("agent_id", agent, limits_.max_id_bytes()); !s.ok()) return s;
  v1::AckResponse response;
  const std::string limit = request.up_to_seq() == UINT64_MAX
                                ? QueueEnd(agent)
                                : MessageKey(agent, request.up_to_seq() + 1);
  // Chunked so one Ack of a huge backlog never builds one giant batch; each
  // chunk is atomic and a retried Ack finishes the rest (it is idempotent).
  while (true) {
    std::vector<std::string> keys;
    absl::Status s =
        table_->Scan(QueuePrefix(agent), limit, [&](absl::string_view key, absl::string_view) {
          keys.emplace_back(key);
          return keys.size() < kAckChunk;
        });
    if (!s.ok()) return s;
    if (keys.empty()) break;
    storage::TableBatch batch;
    for (const auto& k : keys) batch.Delete(k);
    if (auto ws = table_->Write(batch); !ws.ok()) return ws;
    response.set_deleted(response.deleted() + keys.size());
    if (keys.size() < kAckChunk) break;
  }
  return response;
}

}  // namespace agentcom::mailbox
