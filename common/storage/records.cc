#include "common/storage/records.h"

#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agentcom/common/v1/table.pb.h"

namespace agentcom::storage {

absl::Status ParseRecord(const Table& table, absl::string_view key, absl::string_view value,
                         google::protobuf::Message* out) {
  if (out->ParseFromArray(value.data(), static_cast<int>(value.size()))) return absl::OkStatus();
  return absl::DataLossError(absl::StrCat("table ", table.name(), ": unreadable ",
                                          out->GetDescriptor()->name(), " record under key ",
                                          absl::CHexEscape(key)));
}

std::string EncodePageToken(absl::string_view query, absl::string_view after_key) {
  common::v1::PageToken token;
  token.set_query(std::string(query));
  token.set_after_key(std::string(after_key));
  return absl::WebSafeBase64Escape(token.SerializeAsString());
}

absl::StatusOr<std::string> DecodePageToken(absl::string_view token, absl::string_view query) {
  if (token.empty()) return std::string();
  std::string raw;
  common::v1::PageToken decoded;
  if (token.size() > 4096 || !absl::WebSafeBase64Unescape(token, &raw) ||
      !decoded.ParseFromString(raw) || decoded.after_key().empty()) {
    return absl::InvalidArgumentError("page_token is malformed");
  }
  if (decoded.query() != query) {
    return absl::InvalidArgumentError(
        "page_token belongs to a different query; start again without it");
  }
  return decoded.after_key();
}

absl::StatusOr<std::string> ScanPage(
    Table* table, const PageQuery& query,
    const std::function<absl::Status(absl::string_view key, absl::string_view value)>& visit) {
  absl::StatusOr<std::string> after = DecodePageToken(query.page_token, query.query);
  if (!after.ok()) return after.status();
  if (!after->empty() && !absl::StartsWith(*after, query.prefix)) {
    return absl::InvalidArgumentError("page_token is malformed");
  }
  // The smallest key after `after`.
  const std::string start = !after->empty()       ? absl::StrCat(*after, std::string(1, '\0'))
                            : query.start.empty() ? query.prefix
                                                  : query.start;
  std::vector<std::pair<std::string, std::string>> records;
  absl::Status scanned =
      table->Scan(start, query.limit, [&](absl::string_view key, absl::string_view value) {
        records.emplace_back(key, value);
        return records.size() <= query.page_size;  // one more: is there a next page?
      });
  if (!scanned.ok()) return scanned;
  for (size_t i = 0; i < records.size() && i < query.page_size; ++i) {
    if (auto s = visit(records[i].first, records[i].second); !s.ok()) return s;
  }
  if (records.size() <= query.page_size) return std::string();
  return EncodePageToken(query.query, records[query.page_size - 1].first);
}

}  // namespace agentcom::storage
