#ifndef AGENTCOM_COMMON_CONFIG_YAML_PROTO_H_
#define AGENTCOM_COMMON_CONFIG_YAML_PROTO_H_

#include <google/protobuf/message.h>

#include "absl/strings/string_view.h"

#include "absl/status/status.h"

namespace agentcom::config {

// Parses YAML text into `message`, using the message's proto field names as
// keys. Maps fill messages, sequences fill repeated fields; enum values may be
// given by full name (DURABILITY_SYNC) or by the part after the enum's
// prefix, in any case (sync). An unknown key, a scalar of the wrong type or an
// out-of-range number is INVALID_ARGUMENT whose message names the key path,
// e.g. "stores[1].tables[0].nmae: unknown key". Thread-compatible.
absl::Status ParseYamlToProto(absl::string_view yaml,
                              google::protobuf::Message* message);

}  // namespace agentcom::config

#endif  // AGENTCOM_COMMON_CONFIG_YAML_PROTO_H_
