#ifndef AGENTCOM_COMMON_SERVER_API_CHECKS_H_
#define AGENTCOM_COMMON_SERVER_API_CHECKS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"

namespace agentcom::server {

// Argument checks shared by the domain APIs. Each returns OK or
// INVALID_ARGUMENT naming the field and the rule broken.

// 1..max_bytes of [A-Za-z0-9._:@-]; empty allowed only when `optional`.
absl::Status CheckId(absl::string_view field, absl::string_view value, uint32_t max_bytes,
                     bool optional = false);

// 1..max_bytes of printable ASCII without spaces (0x21..0x7e).
absl::Status CheckKey(absl::string_view field, absl::string_view value, uint32_t max_bytes);

// At most max_bytes.
absl::Status CheckSize(absl::string_view field, size_t size, uint32_t max_bytes);

// A page size: 0 means `default_size`; above `max_size` is INVALID_ARGUMENT.
absl::StatusOr<uint32_t> PageSize(absl::string_view field, uint32_t requested,
                                  uint32_t default_size, uint32_t max_size);

// Timestamps in API messages.
google::protobuf::Timestamp ToProtoTime(absl::Time time);
absl::Time FromProtoTime(const google::protobuf::Timestamp& time);

}  // namespace agentcom::server

#endif  // AGENTCOM_COMMON_SERVER_API_CHECKS_H_
