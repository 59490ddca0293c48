#include "services/config/config_store.h"

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "common/server/api_checks.h"
#include "common/storage/records.h"

namespace agentcom::config_store {
namespace {

constexpr uint32_t kDefaultPage = 100;
constexpr uint32_t kMaxPage = 1000;

}  // namespace

absl::Mutex& ConfigStore::StripeOf(const std::string& key) {
  return stripes_[absl::Hash<std::string>()(key) % kStripes];
}

absl::StatusOr<v1::Entry> ConfigStore::Get(const v1::GetRequest& request) {
  if (auto s = server::CheckKey("key", request.key(), limits_.max_id_bytes()); !s.ok()) return s;
  absl::StatusOr<std::optional<v1::Entry>> entry =
      storage::GetRecord<v1::Entry>(table_, request.key());
  if (!entry.ok()) return entry.status();
  if (!entry->has_value()) return absl::NotFoundError(absl::StrCat("key ", request.key()));
  return **entry;
}

absl::StatusOr<std::optional<v1::Entry>> ConfigStore::Current(const std::string& key) {
  if (std::optional<std::optional<v1::Entry>> queued = queued_.Latest(key)) return *queued;
  return storage::GetRecord<v1::Entry>(table_, key);
}

void ConfigStore::PutAsync(const v1::PutRequest& request, server::Reply<v1::Entry> reply) {
  if (auto s = server::CheckKey("key", request.key(), limits_.max_id_bytes()); !s.ok()) {
    return reply(s);
  }
  if (auto s = server::CheckSize("value", request.value().size(), limits_.max_body_bytes());
      !s.ok()) {
    return reply(s);
  }
  absl::MutexLock lock(&StripeOf(request.key()));
  absl::StatusOr<std::optional<v1::Entry>> current = Current(request.key());
  if (!current.ok()) return reply(current.status());
  const uint64_t version = current->has_value() ? (*current)->version() : 0;
  if (request.has_expected_version() && request.expected_version() != version) {
    return reply(absl::AbortedError(absl::StrCat("key ", request.key(), " is at version ", version,
                                                 ", not ", request.expected_version())));
  }
  v1::Entry entry;
  entry.set_key(request.key());
  entry.set_value(request.value());
  entry.set_version(version + 1);
  *entry.mutable_update_time() = server::ToProtoTime(clock_->Now());
  storage::TableBatch batch;
  batch.Put(request.key(), entry.SerializeAsString());
  queued_.Write(*table_, request.key(), std::optional<v1::Entry>(entry), std::move(batch), entry,
                std::move(reply));
}

absl::StatusOr<v1::Entry> ConfigStore::Put(const v1::PutRequest& request) {
  return server::AwaitReply<v1::Entry>(
      [&](server::Reply<v1::Entry> reply) { PutAsync(request, std::move(reply)); });
}

absl::Status ConfigStore::Delete(const v1::DeleteRequest& request) {
  if (auto s = server::CheckKey("key", request.key(), limits_.max_id_bytes()); !s.ok()) return s;
  absl::MutexLock lock(&StripeOf(request.key()));
  absl::StatusOr<std::optional<v1::Entry>> current = Current(request.key());
  if (!current.ok()) return current.status();
  if (!current->has_value()) return absl::NotFoundError(absl::StrCat("key ", request.key()));
  if (request.has_expected_version() && request.expected_version() != (*current)->version()) {
    return absl::AbortedError(absl::StrCat("key ", request.key(), " is at version ",
                                           (*current)->version(), ", not ",
                                           request.expected_version()));
  }
  // Queued like a put, so that a put queued behind it starts from "absent".
  queued_.Queue(request.key(), std::nullopt);
  absl::Status s = table_->Delete(request.key());
  queued_.Finish(request.key());
  return s;
}

absl::StatusOr<v1::ListResponse> ConfigStore::List(const v1::ListRequest& request) {
  if (!request.prefix().empty()) {
    if (auto s = server::CheckKey("prefix", request.prefix(), limits_.max_id_bytes()); !s.ok()) {
      return s;
    }
  }
  absl::StatusOr<uint32_t> page =
      server::PageSize("page_size", request.page_size(), kDefaultPage, kMaxPage);
  if (!page.ok()) return page.status();
  // Keys are printable ASCII, so every key with the prefix sorts before
  // prefix + 0x7f.
  v1::ListResponse response;
  absl::StatusOr<std::string> next =
      storage::ScanPage(table_,
                        {.query = request.prefix(),
                         .page_token = request.page_token(),
                         .prefix = request.prefix(),
                         .limit = absl::StrCat(request.prefix(), "\x7f"),
                         .page_size = *page},
                        [&](absl::string_view key, absl::string_view value) {
                          return storage::ParseRecord(*table_, key, value, response.add_entries());
                        });
  if (!next.ok()) return next.status();
  response.set_next_page_token(*next);
  return response;
}

}  // namespace agentcom::config_store
