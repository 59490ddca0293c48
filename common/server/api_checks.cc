#include "common/server/api_checks.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace agentcom::server {

absl::Status CheckId(absl::string_view field, absl::string_view value, uint32_t max_bytes,
                     bool optional) {
  if (value.empty()) {
    if (optional) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrCat(field, " is required"));
  }
  if (value.size() > max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(field, " is longer than ", max_bytes, " bytes"));
  }
  for (char c : value) {
    if (!(absl::ascii_isalnum(c) || c == '.' || c == '_' || c == ':' || c == '@' || c == '-')) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, " may only contain A-Z a-z 0-9 . _ : @ -"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckKey(absl::string_view field, absl::string_view value, uint32_t max_bytes) {
  if (value.empty()) return absl::InvalidArgumentError(absl::StrCat(field, " is required"));
  if (value.size() > max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(field, " is longer than ", max_bytes, " bytes"));
  }
  for (char c : value) {
    if (c < 0x21 || c > 0x7e) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, " may only contain printable ASCII without spaces"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckSize(absl::string_view field, size_t size, uint32_t max_bytes) {
  if (size > max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " is ", size, " bytes; the limit is ", max_bytes));
  }
  return absl::OkStatus();
}

absl::StatusOr<uint32_t> PageSize(absl::string_view field, uint32_t requested,
                                  uint32_t default_size, uint32_t max_size) {
  if (requested == 0) return default_size;
  if (requested > max_size) {
    return absl::InvalidArgumentError(absl::StrCat(field, " must be at most ", max_size));
  }
  return requested;
}

google::protobuf::Timestamp ToProtoTime(absl::Time time) {
  google::protobuf::Timestamp t;
  const int64_t nanos = absl::ToUnixNanos(time);
  t.set_seconds(nanos / 1'000'000'000);
  t.set_nanos(static_cast<int32_t>(nanos % 1'000'000'000));
  if (t.nanos() < 0) {
    t.set_seconds(t.seconds() - 1);
    t.set_nanos(t.nanos() + 1'000'000'000);
  }
  return t;
}

absl::Time FromProtoTime(const google::protobuf::Timestamp& time) {
  return absl::FromUnixSeconds(time.seconds()) + absl::Nanoseconds(time.nanos());
}

}  // namespace agentcom::server
