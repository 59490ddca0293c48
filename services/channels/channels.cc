#include "services/channels/channels.h"

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "common/server/api_checks.h"
#include "common/storage/keys.h"
#include "common/storage/records.h"

namespace agentcom::channels {
namespace {

using storage::kSep;
using storage::kSepEnd;

constexpr uint32_t kDefaultPage = 100;
constexpr uint32_t kMaxPage = 1000;
// History pages stop after about this many bytes of messages (at least
// one), so a page fits a client's default 4 MiB receive limit.
constexpr size_t kMaxPageBytes = size_t{3} << 20;
constexpr size_t kMaxListedSubscribers = 10000;

std::string SubPrefix(absl::string_view channel) { return absl::StrCat("s", channel, kSep); }
std::string SubEnd(absl::string_view channel) { return absl::StrCat("s", channel, kSepEnd); }
std::string MessagePrefix(absl::string_view channel) { return absl::StrCat("m", channel, kSep); }
std::string MessageKey(absl::string_view channel, uint64_t seq) {
  return absl::StrCat(MessagePrefix(channel), storage::EncodeU64(seq));
}
std::string SeqKey(absl::string_view channel) { return absl::StrCat("n", channel); }

}  // namespace

absl::Mutex& Channels::LockFor(const std::string& channel) {
  return stripes_[absl::Hash<std::string>()(channel) % kStripes];
}

absl::Status Channels::CheckPair(const std::string& channel, const std::string& agent) const {
  if (auto s = server::CheckId("channel", channel, limits_.max_id_bytes()); !s.ok()) return s;
  return server::CheckId("agent_id", agent, limits_.max_id_bytes());
}

absl::StatusOr<v1::SubscribeResponse> Channels::Subscribe(const v1::SubscribeRequest& r) {
  if (auto s = CheckPair(r.channel(), r.agent_id()); !s.ok()) return s;
  absl::MutexLock l(&LockFor(r.channel()));
  const std::string key = absl::StrCat(SubPrefix(r.channel()), r.agent_id());
  auto existing = subscriptions_->Get(key);
  if (!existing.ok()) return existing.status();
  v1::SubscribeResponse response;
  response.set_created(!existing->has_value());
  if (response.created()) {
    if (auto s = subscriptions_->Put(key, ""); !s.ok()) return s;
  }
  return response;
}

absl::StatusOr<v1::UnsubscribeResponse> Channels::Unsubscribe(const v1::UnsubscribeRequest& r) {
  if (auto s = CheckPair(r.channel(), r.agent_id()); !s.ok()) return s;
  absl::MutexLock l(&LockFor(r.channel()));
  const std::string key = absl::StrCat(SubPrefix(r.channel()), r.agent_id());
  auto existing = subscriptions_->Get(key);
  if (!existing.ok()) return existing.status();
  v1::UnsubscribeResponse response;
  response.set_removed(existing->has_value());
  if (response.removed()) {
    if (auto s = subscriptions_->Delete(key); !s.ok()) return s;
  }
  return response;
}

absl::StatusOr<v1::ListSubscribersResponse> Channels::ListSubscribers(
    const v1::ListSubscribersRequest& r) {
  if (auto s = server::CheckId("channel", r.channel(), limits_.max_id_bytes()); !s.ok()) return s;
  absl::StatusOr<uint32_t> page =
      server::PageSize("page_size", r.page_size(), kDefaultPage, kMaxPage);
  if (!page.ok()) return page.status();
  const std::string prefix = SubPrefix(r.channel());
  v1::ListSubscribersResponse response;
  absl::StatusOr<std::string> next =
      storage::ScanPage(subscriptions_,
                        {.query = r.channel(),
                         .page_token = r.page_token(),
                         .prefix = prefix,
                         .limit = SubEnd(r.channel()),
                         .page_size = *page},
                        [&](absl::string_view key, absl::string_view) {
                          response.add_agent_ids(std::string(key.substr(prefix.size())));
                          return absl::OkStatus();
                        });
  if (!next.ok()) return next.status();
  response.set_next_page_token(*next);
  return response;
}

absl::Status Channels::CheckChannel(absl::string_view channel) const {
  return server::CheckId("channel", channel, limits_.max_id_bytes());
}

void Channels::PublishAsync(const v1::PublishRequest& r, server::Reply<v1::PublishResponse> reply) {
  if (auto s = server::CheckId("channel", r.channel(), limits_.max_id_bytes()); !s.ok()) {
    return reply(s);
  }
  if (auto s = server::CheckId("from", r.from(), limits_.max_id_bytes(), true); !s.ok()) {
    return reply(s);
  }
  if (auto s = server::CheckSize("body", r.body().size(), limits_.max_body_bytes()); !s.ok()) {
    return reply(s);
  }
  absl::MutexLock l(&LockFor(r.channel()));
  absl::StatusOr<uint64_t> next =
      storage::NextSequence(*history_, queued_, r.channel(), SeqKey(r.channel()));
  if (!next.ok()) return reply(next.status());
  v1::ChannelMessage message;
  message.set_channel(r.channel());
  message.set_seq(*next);
  message.set_from(r.from());
  message.set_body(r.body());
  *message.mutable_time() = server::ToProtoTime(clock_->Now());

  v1::PublishResponse response;
  const std::string prefix = SubPrefix(r.channel());
  absl::Status s = subscriptions_->Scan(
      prefix, SubEnd(r.channel()), [&](absl::string_view key, absl::string_view) {
        if (response.subscribers_size() < static_cast<int>(kMaxListedSubscribers)) {
          response.add_subscribers(std::string(key.substr(prefix.size())));
        }
        response.set_subscriber_count(response.subscriber_count() + 1);
        return true;
      });
  if (!s.ok()) return reply(s);
  storage::TableBatch batch;
  batch.Put(SeqKey(r.channel()), storage::EncodeU64(message.seq()));
  batch.Put(MessageKey(r.channel(), message.seq()), message.SerializeAsString());
  response.set_seq(message.seq());
  queued_.Write(*history_, r.channel(), message.seq(), std::move(batch), response,
                std::move(reply));
}

absl::StatusOr<v1::PublishResponse> Channels::Publish(const v1::PublishRequest& r) {
  return server::AwaitReply<v1::PublishResponse>(
      [&](server::Reply<v1::PublishResponse> reply) { PublishAsync(r, std::move(reply)); });
}

absl::StatusOr<v1::HistoryResponse> Channels::History(const v1::HistoryRequest& r) {
  if (auto s = server::CheckId("channel", r.channel(), limits_.max_id_bytes()); !s.ok()) return s;
  absl::StatusOr<uint32_t> max =
      server::PageSize("max_messages", r.max_messages(), kDefaultPage, kMaxPage);
  if (!max.ok()) return max.status();
  v1::HistoryResponse response;
  if (r.after_seq() == UINT64_MAX) return response;
  absl::Status parse_error;
  size_t bytes = 0;
  absl::Status s = history_->Scan(
      MessageKey(r.channel(), r.after_seq() + 1), absl::StrCat("m", r.channel(), kSepEnd),
      [&](absl::string_view key, absl::string_view value) {
        if (response.messages_size() == static_cast<int>(*max) ||
            (response.messages_size() > 0 && bytes + value.size() > kMaxPageBytes)) {
          response.set_has_more(true);
          return false;
        }
        bytes += value.size();
        parse_error = storage::ParseRecord(*history_, key, value, response.add_messages());
        return parse_error.ok();
      });
  if (!s.ok()) return s;
  if (!parse_error.ok()) return parse_error;
  return response;
}

}  // namespace agentcom::channels
