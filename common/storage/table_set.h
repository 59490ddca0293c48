#ifndef AGENTCOM_COMMON_STORAGE_TABLE_SET_H_
#define AGENTCOM_COMMON_STORAGE_TABLE_SET_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/storage/table.h"

namespace agentcom::storage {

// The tables one store process owns, by name. Filled at start-up, then
// read-only, so concurrent lookups are safe.
class TableSet {
 public:
  void Add(std::unique_ptr<Table> table) {
    std::string name = table->name();
    tables_[name] = std::move(table);
  }

  // NOT_FOUND naming the table when this process does not own it.
  absl::StatusOr<Table*> Find(absl::string_view name) const {
    auto it = tables_.find(std::string(name));
    if (it == tables_.end()) {
      return absl::NotFoundError(absl::StrCat("table ", name, " is not served by this store"));
    }
    return it->second.get();
  }

  // In name order.
  // Closes every table.
  void Clear() { tables_.clear(); }
  // Takes `name` out of the set (nullptr if absent).
  std::unique_ptr<Table> Release(const std::string& name) {
    auto it = tables_.find(name);
    if (it == tables_.end()) return nullptr;
    std::unique_ptr<Table> t = std::move(it->second);
    tables_.erase(it);
    return t;
  }
  std::vector<Table*> All() const {
    std::vector<Table*> all;
    for (const auto& [name, table] : tables_) all.push_back(table.get());
    return all;
  }

 private:
  std::map<std::string, std::unique_ptr<Table>> tables_;
};

}  // namespace agentcom::storage

#endif  // AGENTCOM_COMMON_STORAGE_TABLE_SET_H_
