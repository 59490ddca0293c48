#include "common/storage/linked_writer.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "agentcom/common/v1/table.pb.h"
#include "common/ids/random_id.h"
#include "common/logging/log.h"

namespace agentcom::storage {
namespace {

TableBatch ToBatch(const common::v1::PendingWrite& pending) {
  TableBatch batch;
  for (const auto& op : pending.ops()) {
    if (op.has_value()) {
      batch.Put(op.key(), op.value());
    } else {
      batch.Delete(op.key());
    }
  }
  return batch;
}

}  // namespace

absl::Status LinkedWriter::Apply(const TableBatch& first, const TableBatch& second) {
  common::v1::PendingWrite pending;
  pending.set_table(b_->name());
  for (const auto& op : second.ops()) {
    auto* p = pending.add_ops();
    p->set_key(op.key);
    if (op.value) p->set_value(*op.value);
  }
  absl::StatusOr<std::string> id = ids::RandomHex(12);
  if (!id.ok()) return id.status();
  const std::string intent = absl::StrCat(kIntentPrefix, *id);
  TableBatch step1 = first;
  step1.Put(intent, pending.SerializeAsString());
  if (absl::Status s = a_->Write(step1); !s.ok()) return s;
  // From here on the change is decided: if B fails now, Recover() finishes it.
  if (absl::Status s = b_->Write(second); !s.ok()) return s;
  return a_->Delete(intent);
}

absl::StatusOr<int> LinkedWriter::Recover() {
  std::vector<std::pair<std::string, std::string>> intents;
  const std::string prefix = kIntentPrefix;
  const std::string limit = absl::StrCat(prefix.substr(0, prefix.size() - 1), "0");
  absl::Status s = a_->Scan(prefix, limit, [&](absl::string_view k, absl::string_view v) {
    intents.emplace_back(std::string(k), std::string(v));
    return true;
  });
  if (!s.ok()) return s;
  for (const auto& [key, value] : intents) {
    common::v1::PendingWrite pending;
    if (!pending.ParseFromString(value) || pending.table() != b_->name()) {
      return absl::DataLossError(
          absl::StrCat("table ", a_->name(), ": unreadable intent record ", key));
    }
    if (absl::Status ws = b_->Write(ToBatch(pending)); !ws.ok()) return ws;
    if (absl::Status ds = a_->Delete(key); !ds.ok()) return ds;
    log::Warn("completed a change interrupted by a crash",
              {{"table", a_->name()}, {"other_table", b_->name()}});
  }
  return static_cast<int>(intents.size());
}

}  // namespace agentcom::storage
