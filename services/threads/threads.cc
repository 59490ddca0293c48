#include "services/threads/threads.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "common/server/api_checks.h"
#include "common/storage/keys.h"
#include "common/storage/records.h"

namespace agentcom::threads {
namespace {

using server::FromProtoTime;
using storage::kSep;
using storage::kSepEnd;

constexpr uint32_t kDefaultPage = 100;
constexpr uint32_t kMaxPage = 1000;

std::string MessageKey(absl::string_view id) { return absl::StrCat("m", id); }
std::string TimePart(const v1::ThreadMessage& m) {
  return storage::EncodeI64(absl::ToUnixNanos(FromProtoTime(m.time())));
}
std::string ThreadPrefix(absl::string_view root) { return absl::StrCat("r", root, kSep); }
std::string ReplyPrefix(absl::string_view parent) { return absl::StrCat("p", parent, kSep); }

bool SameMessage(const v1::ThreadMessage& stored, const v1::ThreadMessage& request) {
  return stored.from() == request.from() && stored.body() == request.body() &&
         stored.reply_to() == request.reply_to() &&
         (!request.has_time() || FromProtoTime(stored.time()) == FromProtoTime(request.time()));
}

}  // namespace

absl::Status Threads::Recover() { return linked_.Recover().status(); }

absl::StatusOr<std::optional<v1::ThreadMessage>> Threads::Load(const std::string& id) {
  return storage::GetRecord<v1::ThreadMessage>(messages_, MessageKey(id));
}

absl::StatusOr<v1::IndexResponse> Threads::Index(const v1::IndexRequest& r) {
  const v1::ThreadMessage& in = r.message();
  if (auto s = server::CheckId("message.id", in.id(), limits_.max_id_bytes()); !s.ok()) return s;
  if (auto s = server::CheckId("message.from", in.from(), limits_.max_id_bytes(), true); !s.ok()) {
    return s;
  }
  if (auto s = server::CheckId("message.reply_to", in.reply_to(), limits_.max_id_bytes(), true);
      !s.ok()) {
    return s;
  }
  if (in.reply_to() == in.id()) {
    return absl::InvalidArgumentError("message.reply_to names the message itself");
  }
  if (auto s = server::CheckSize("message.body", in.body().size(), limits_.max_body_bytes());
      !s.ok()) {
    return s;
  }
  absl::MutexLock l(&index_mu_);
  auto existing = Load(in.id());
  if (!existing.ok()) return existing.status();
  v1::IndexResponse response;
  if (existing->has_value()) {
    if (!SameMessage(**existing, in)) {
      return absl::AlreadyExistsError(
          absl::StrCat("message ", in.id(), " is already indexed with other content"));
    }
    response.set_root_id((*existing)->root_id());
    return response;
  }
  v1::ThreadMessage m = in;
  if (!m.has_time()) *m.mutable_time() = server::ToProtoTime(clock_->Now());
  if (m.reply_to().empty()) {
    m.set_root_id(m.id());
  } else {
    auto parent = Load(m.reply_to());
    if (!parent.ok()) return parent.status();
    if (!parent->has_value()) {
      return absl::NotFoundError(
          absl::StrCat("message.reply_to ", m.reply_to(), " is not indexed"));
    }
    m.set_root_id((*parent)->root_id());
  }
  storage::TableBatch first;
  first.Put(MessageKey(m.id()), m.SerializeAsString());
  first.Put(absl::StrCat(ThreadPrefix(m.root_id()), TimePart(m), m.id()), "");
  absl::Status s;
  if (m.reply_to().empty()) {
    s = messages_->Write(first);
  } else {
    storage::TableBatch second;
    second.Put(absl::StrCat(ReplyPrefix(m.reply_to()), TimePart(m), m.id()), "");
    s = linked_.Apply(first, second);
  }
  if (!s.ok()) return s;
  response.set_root_id(m.root_id());
  return response;
}

absl::Status Threads::Page(storage::Table* table, const std::string& prefix,
                           const std::string& query, uint32_t page_size, const std::string& token,
                           google::protobuf::RepeatedPtrField<v1::ThreadMessage>* out,
                           std::string* next_token) {
  absl::StatusOr<std::string> next =
      storage::ScanPage(table,
                        {.query = query,
                         .page_token = token,
                         .prefix = prefix,
                         .limit = absl::StrCat(prefix.substr(0, prefix.size() - 1), kSepEnd),
                         .page_size = page_size},
                        [&](absl::string_view key, absl::string_view) -> absl::Status {
                          auto m = Load(std::string(key.substr(prefix.size() + 8)));
                          if (!m.ok()) return m.status();
                          if (m->has_value()) *out->Add() = **m;
                          return absl::OkStatus();
                        });
  if (!next.ok()) return next.status();
  *next_token = *next;
  return absl::OkStatus();
}

absl::StatusOr<v1::GetThreadResponse> Threads::GetThread(const v1::GetThreadRequest& r) {
  if (auto s = server::CheckId("root_id", r.root_id(), limits_.max_id_bytes()); !s.ok()) return s;
  absl::StatusOr<uint32_t> page =
      server::PageSize("page_size", r.page_size(), kDefaultPage, kMaxPage);
  if (!page.ok()) return page.status();
  v1::GetThreadResponse response;
  std::string next;
  if (auto s = Page(messages_, ThreadPrefix(r.root_id()), r.root_id(), *page, r.page_token(),
                    response.mutable_messages(), &next);
      !s.ok()) {
    return s;
  }
  if (response.messages().empty() && r.page_token().empty()) {
    return absl::NotFoundError(absl::StrCat("thread ", r.root_id()));
  }
  response.set_next_page_token(next);
  return response;
}

absl::StatusOr<v1::GetRepliesResponse> Threads::GetReplies(const v1::GetRepliesRequest& r) {
  if (auto s = server::CheckId("message_id", r.message_id(), limits_.max_id_bytes()); !s.ok()) {
    return s;
  }
  absl::StatusOr<uint32_t> page =
      server::PageSize("page_size", r.page_size(), kDefaultPage, kMaxPage);
  if (!page.ok()) return page.status();
  v1::GetRepliesResponse response;
  std::string next;
  if (auto s = Page(replies_, ReplyPrefix(r.message_id()), r.message_id(), *page, r.page_token(),
                    response.mutable_messages(), &next);
      !s.ok()) {
    return s;
  }
  response.set_next_page_token(next);
  return response;
}

}  // namespace agentcom::threads
