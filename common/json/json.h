#ifndef AGENTCOM_COMMON_JSON_JSON_H_
#define AGENTCOM_COMMON_JSON_JSON_H_

#include <google/protobuf/message.h>
#include <google/protobuf/util/json_util.h>

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace agentcom::json {

// The protobuf JSON mapping with field names as in the .proto: what state
// files, events, webhooks and the HTTP API carry. `pretty` adds line breaks
// and indentation (files operators read); without it the JSON is one line.
inline std::string ToJson(const google::protobuf::Message& m, bool pretty = true) {
  std::string out;
  google::protobuf::util::JsonPrintOptions print;
  print.preserve_proto_field_names = true;
  print.add_whitespace = pretty;
  (void)google::protobuf::util::MessageToJsonString(m, &out, print);
  return out;
}

// INVALID_ARGUMENT when `text` is not `m`'s JSON.
inline absl::Status FromJson(const std::string& text, google::protobuf::Message* m) {
  auto s = google::protobuf::util::JsonStringToMessage(text, m);
  if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat("not valid JSON: ", s.ToString()));
  return absl::OkStatus();
}

}  // namespace agentcom::json

#endif  // AGENTCOM_COMMON_JSON_JSON_H_
