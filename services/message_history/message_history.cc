#include "services/message_history/message_history.h"

#include <set>
#include <vector>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "common/server/api_checks.h"
#include "common/storage/keys.h"
#include "common/storage/records.h"

namespace agentcom::message_history {
namespace {

using server::FromProtoTime;
using storage::EncodeI64;
using storage::kSep;
using storage::kSepEnd;

constexpr uint32_t kDefaultLimit = 100;
constexpr uint32_t kMaxLimit = 1000;

std::string MessageKey(absl::string_view id) { return absl::StrCat("m", id); }

// The index prefix (ending just before the time) that answers a filter.
std::string IndexPrefix(absl::string_view agent, absl::string_view channel) {
  if (!agent.empty() && !channel.empty()) return absl::StrCat("b", agent, kSep, channel, kSep);
  if (!agent.empty()) return absl::StrCat("a", agent, kSep);
  if (!channel.empty()) return absl::StrCat("c", channel, kSep);
  return "t";
}

std::vector<std::string> IndexKeys(const v1::HistoryMessage& m) {
  const std::string suffix =
      absl::StrCat(EncodeI64(absl::ToUnixNanos(FromProtoTime(m.time()))), m.id());
  std::vector<std::string> keys = {absl::StrCat(IndexPrefix("", ""), suffix)};
  std::set<std::string> agents;
  if (!m.from().empty()) agents.insert(m.from());
  if (!m.to().empty()) agents.insert(m.to());
  for (const auto& agent : agents) {
    keys.push_back(absl::StrCat(IndexPrefix(agent, ""), suffix));
    if (!m.channel().empty()) keys.push_back(absl::StrCat(IndexPrefix(agent, m.channel()), suffix));
  }
  if (!m.channel().empty()) keys.push_back(absl::StrCat(IndexPrefix("", m.channel()), suffix));
  return keys;
}

bool SameMessage(const v1::HistoryMessage& stored, const v1::HistoryMessage& request) {
  return stored.from() == request.from() && stored.to() == request.to() &&
         stored.channel() == request.channel() && stored.body() == request.body() &&
         (!request.has_time() || FromProtoTime(stored.time()) == FromProtoTime(request.time()));
}

}  // namespace

absl::StatusOr<v1::StoreResponse> MessageHistory::Store(const v1::StoreRequest& r) {
  const v1::HistoryMessage& in = r.message();
  const uint32_t max_id = limits_.max_id_bytes();
  if (auto s = server::CheckId("message.id", in.id(), max_id); !s.ok()) return s;
  if (auto s = server::CheckId("message.from", in.from(), max_id, true); !s.ok()) return s;
  if (auto s = server::CheckId("message.to", in.to(), max_id, true); !s.ok()) return s;
  if (auto s = server::CheckId("message.channel", in.channel(), max_id, true); !s.ok()) return s;
  if (in.from().empty() && in.to().empty() && in.channel().empty()) {
    return absl::InvalidArgumentError("message needs a from, a to or a channel");
  }
  if (auto s = server::CheckSize("message.body", in.body().size(), limits_.max_body_bytes());
      !s.ok()) {
    return s;
  }
  absl::MutexLock l(&stripes_[absl::Hash<std::string>()(in.id()) % kStripes]);
  auto existing = storage::GetRecord<v1::HistoryMessage>(table_, MessageKey(in.id()));
  if (!existing.ok()) return existing.status();
  v1::StoreResponse response;
  if (existing->has_value()) {
    if (!SameMessage(**existing, in)) {
      return absl::AlreadyExistsError(
          absl::StrCat("message ", in.id(), " is already stored with other content"));
    }
    response.set_created(false);
    return response;
  }
  v1::HistoryMessage m = in;
  if (!m.has_time()) *m.mutable_time() = server::ToProtoTime(clock_->Now());
  storage::TableBatch batch;
  batch.Put(MessageKey(m.id()), m.SerializeAsString());
  for (const auto& key : IndexKeys(m)) batch.Put(key, "");
  if (auto s = table_->Write(batch); !s.ok()) return s;
  response.set_created(true);
  return response;
}

absl::StatusOr<v1::QueryResponse> MessageHistory::Query(const v1::QueryRequest& r) {
  const uint32_t max_id = limits_.max_id_bytes();
  if (auto s = server::CheckId("agent_id", r.agent_id(), max_id, true); !s.ok()) return s;
  if (auto s = server::CheckId("channel", r.channel(), max_id, true); !s.ok()) return s;
  absl::StatusOr<uint32_t> limit = server::PageSize("limit", r.limit(), kDefaultLimit, kMaxLimit);
  if (!limit.ok()) return limit.status();
  if (r.has_start_time() && r.has_end_time() &&
      FromProtoTime(r.end_time()) < FromProtoTime(r.start_time())) {
    return absl::InvalidArgumentError("end_time is before start_time");
  }
  const std::string prefix = IndexPrefix(r.agent_id(), r.channel());
  // The token is bound to the whole filter, so it cannot be replayed on
  // another query.
  const std::string query = absl::StrCat(
      prefix, "|", r.has_start_time() ? absl::ToUnixNanos(FromProtoTime(r.start_time())) : 0, "|",
      r.has_end_time() ? absl::ToUnixNanos(FromProtoTime(r.end_time())) : 0);
  v1::QueryResponse response;
  absl::StatusOr<std::string> next = storage::ScanPage(
      table_,
      {.query = query,
       .page_token = r.page_token(),
       .prefix = prefix,
       .start =
           r.has_start_time()
               ? absl::StrCat(prefix, EncodeI64(absl::ToUnixNanos(FromProtoTime(r.start_time()))))
               : "",
       .limit =
           r.has_end_time()
               ? absl::StrCat(prefix, EncodeI64(absl::ToUnixNanos(FromProtoTime(r.end_time()))))
               : (prefix == "t" ? std::string("u")
                                : absl::StrCat(prefix.substr(0, prefix.size() - 1), kSepEnd)),
       .page_size = *limit},
      [&](absl::string_view key, absl::string_view) -> absl::Status {
        const std::string id(key.substr(prefix.size() + 8));
        auto m = storage::GetRecord<v1::HistoryMessage>(table_, MessageKey(id));
        if (!m.ok()) return m.status();
        if (m->has_value()) *response.add_messages() = **m;
        return absl::OkStatus();
      });
  if (!next.ok()) return next.status();
  response.set_next_page_token(*next);
  return response;
}

}  // namespace agentcom::message_history
