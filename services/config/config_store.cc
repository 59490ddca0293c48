#include "services/config/config_store.h"

#include <google/protobuf/util/time_util.h>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/server/api_checks.h"

namespace agentcom::config_store {
namespace {

constexpr uint32_t kDefaultPage = 100;
constexpr uint32_t kMaxPage = 1000;

}  // namespace

absl::Mutex& ConfigStore::StripeOf(const std::string& key) {
  return stripes_[absl::Hash<std::string>()(key) % kStripes];
}

absl::StatusOr<std::optional<v1::Entry>> ConfigStore::Read(const std::string& key) {
  absl::StatusOr<std::optional<std::string>> raw = table_->Get(key);
  if (!raw.ok()) return raw.status();
  if (!raw->has_value()) return std::optional<v1::Entry>();
  v1::Entry entry;
  if (!entry.ParseFromString(**raw)) {
    return absl::DataLossError(absl::StrCat("table ", kConfigTable, ": unreadable entry ", key));
  }
  return std::optional<v1::Entry>(std::move(entry));
}

absl::StatusOr<v1::Entry> ConfigStore::Get(const v1::GetRequest& request) {
  if (auto s = server::CheckKey("key", request.key(), limits_.max_id_bytes()); !s.ok()) return s;
  absl::StatusOr<std::optional<v1::Entry>> entry = Read(request.key());
  if (!entry.ok()) return entry.status();
  if (!entry->has_value()) return absl::NotFoundError(absl::StrCat("key ", request.key()));
  return **entry;
}

absl::StatusOr<v1::Entry> ConfigStore::Put(const v1::PutRequest& request) {
  if (auto s = server::CheckKey("key", request.key(), limits_.max_id_bytes()); !s.ok()) return s;
  if (auto s = server::CheckSize("value", request.value().size(), limits_.max_body_bytes());
      !s.ok()) {
    return s;
  }
  absl::MutexLock lock(&StripeOf(request.key()));
  absl::StatusOr<std::optional<v1::Entry>> current = Read(request.key());
  if (!current.ok()) return current.status();
  const uint64_t version = current->has_value() ? (*current)->version() : 0;
  if (request.has_expected_version() && request.expected_version() != version) {
    return absl::AbortedError(absl::StrCat("key ", request.key(), " is at version ", version,
                                           ", not ", request.expected_version()));
  }
  v1::Entry entry;
  entry.set_key(request.key());
  entry.set_value(request.value());
  entry.set_version(version + 1);
  *entry.mutable_update_time() =
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::GetCurrentTimeNanos());
  if (auto s = table_->Put(request.key(), entry.SerializeAsString()); !s.ok()) return s;
  return entry;
}

absl::Status ConfigStore::Delete(const v1::DeleteRequest& request) {
  if (auto s = server::CheckKey("key", request.key(), limits_.max_id_bytes()); !s.ok()) return s;
  absl::MutexLock lock(&StripeOf(request.key()));
  absl::StatusOr<std::optional<v1::Entry>> current = Read(request.key());
  if (!current.ok()) return current.status();
  if (!current->has_value()) return absl::NotFoundError(absl::StrCat("key ", request.key()));
  if (request.has_expected_version() && request.expected_version() != (*current)->version()) {
    return absl::AbortedError(absl::StrCat("key ", request.key(), " is at version ",
                                           (*current)->version(), ", not ",
                                           request.expected_version()));
  }
  return table_->Delete(request.key());
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
  absl::StatusOr<std::string> after = server::DecodePageToken(request.page_token(), request.prefix());
  if (!after.ok()) return after.status();
  if (!after->empty() && after->rfind(request.prefix(), 0) != 0) {
    return absl::InvalidArgumentError("page_token is malformed");
  }
  // Keys are printable ASCII, so every key with the prefix sorts before
  // prefix + 0x7f.
  const std::string start = after->empty() ? request.prefix() : absl::StrCat(*after, std::string(1, '\0'));
  const std::string limit = absl::StrCat(request.prefix(), "\x7f");
  v1::ListResponse response;
  absl::Status parse_error;
  std::string last_key;
  absl::Status s = table_->Scan(start, limit, [&](absl::string_view key, absl::string_view value) {
    if (static_cast<uint32_t>(response.entries_size()) == *page) {
      response.set_next_page_token(server::EncodePageToken(request.prefix(), last_key));
      return false;
    }
    if (!response.add_entries()->ParseFromArray(value.data(), static_cast<int>(value.size()))) {
      parse_error = absl::DataLossError(absl::StrCat("table ", kConfigTable,
                                                     ": unreadable entry ", key));
      return false;
    }
    last_key.assign(key.data(), key.size());
    return true;
  });
  if (!s.ok()) return s;
  if (!parse_error.ok()) return parse_error;
  return response;
}

}  // namespace agentcom::config_store
