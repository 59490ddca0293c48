#ifndef AGENTCOM_COMMON_SERVER_API_CHECKS_H_
#define AGENTCOM_COMMON_SERVER_API_CHECKS_H_

#include <functional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/notification.h"
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

// How a core answers a call whose write commits without the caller waiting
// (storage::Table::WriteAsync): called exactly once, possibly on another
// thread, possibly before the call returns.
template <typename T>
using Reply = std::function<void(absl::StatusOr<T>)>;

// Runs `call(reply)` and waits for its answer: the blocking form of a core
// call that answers through a Reply, for tests and tools.
template <typename T, typename Call>
absl::StatusOr<T> AwaitReply(Call&& call) {
  absl::Notification answered;
  absl::StatusOr<T> result;
  std::forward<Call>(call)([&](absl::StatusOr<T> r) {
    result = std::move(r);
    answered.Notify();
  });
  answered.WaitForNotification();
  return result;
}

// Timestamps in API messages.
google::protobuf::Timestamp ToProtoTime(absl::Time time);
absl::Time FromProtoTime(const google::protobuf::Timestamp& time);

}  // namespace agentcom::server

#endif  // AGENTCOM_COMMON_SERVER_API_CHECKS_H_
