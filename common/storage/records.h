#ifndef AGENTCOM_COMMON_STORAGE_RECORDS_H_
#define AGENTCOM_COMMON_STORAGE_RECORDS_H_

#include <google/protobuf/message.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/storage/table.h"

namespace agentcom::storage {

// Records that are protobuf messages, and paged scans of key ranges: the
// read patterns every store shares.

// Parses `value`, the record stored under `key` in `table`. DATA_LOSS naming
// both when the bytes are not a `*out`.
absl::Status ParseRecord(const Table& table, absl::string_view key, absl::string_view value,
                         google::protobuf::Message* out);

// The message stored under `key`, or nullopt when there is none. Errors:
// the table's (UNAVAILABLE while it is corrupted or restoring), or
// DATA_LOSS for bytes that do not parse.
template <typename M>
absl::StatusOr<std::optional<M>> GetRecord(Table* table, absl::string_view key) {
  absl::StatusOr<std::optional<std::string>> raw = table->Get(key);
  if (!raw.ok()) return raw.status();
  if (!raw->has_value()) return std::optional<M>();
  M message;
  if (auto s = ParseRecord(*table, key, **raw, &message); !s.ok()) return s;
  return std::optional<M>(std::move(message));
}

// Page tokens (agentcom.common.v1.PageToken, base64url): the key a listing
// resumes after, bound to the query it came from. Decode returns "" for an
// empty token; INVALID_ARGUMENT when the token is malformed or belongs to
// another query.
std::string EncodePageToken(absl::string_view query, absl::string_view after_key);
absl::StatusOr<std::string> DecodePageToken(absl::string_view token, absl::string_view query);

// One page of the keys in [start, limit) that all begin with `prefix`.
struct PageQuery {
  // What the page token is bound to (e.g. the request's filter).
  std::string query = {};
  // From the request; "" for the first page.
  std::string page_token = {};
  std::string prefix = {};
  // Where the first page begins; empty means `prefix`.
  std::string start = {};
  std::string limit = {};
  uint32_t page_size = 100;
};

// Calls `visit` for up to `page_size` records of the range in key order,
// resuming after the key in `page_token`, and returns the token of the next
// page ("" after the last). The records are read first and visited after the
// scan, so `visit` may read the table. INVALID_ARGUMENT for a token that is
// malformed, of another query or outside the prefix; the table's errors;
// the first error `visit` returns.
absl::StatusOr<std::string> ScanPage(
    Table* table, const PageQuery& query,
    const std::function<absl::Status(absl::string_view key, absl::string_view value)>& visit);

}  // namespace agentcom::storage

#endif  // AGENTCOM_COMMON_STORAGE_RECORDS_H_
