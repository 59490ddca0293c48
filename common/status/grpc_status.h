#ifndef AGENTCOM_COMMON_STATUS_GRPC_STATUS_H_
#define AGENTCOM_COMMON_STATUS_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include <string>

#include "absl/status/status.h"

namespace agentcom {

// The one place where absl::Status and grpc::Status meet. The canonical codes
// are numerically equal, so the conversion keeps code and message unchanged.
grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

// "NOT_FOUND", "UNAVAILABLE", ...: the canonical name of a status code, as
// metrics labels and HTTP error bodies carry it.
std::string StatusCodeName(grpc::StatusCode code);

}  // namespace agentcom

#endif  // AGENTCOM_COMMON_STATUS_GRPC_STATUS_H_
