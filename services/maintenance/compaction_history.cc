#include "services/maintenance/compaction_history.h"

#include "common/files/files.h"
#include "common/json/json.h"
#include "common/logging/log.h"

namespace agentcom::maintenance {

CompactionHistoryStore::CompactionHistoryStore(leveldb::Env* env, std::string path)
    : env_(env), path_(std::move(path)) {}

void CompactionHistoryStore::Load() {
  absl::StatusOr<std::string> text = files::ReadFile(env_, path_);
  if (!text.ok()) return;
  v1::CompactionHistory loaded;
  if (!json::FromJson(*text, &loaded).ok()) {
    log::Warn("ignoring an unreadable compaction history", {{"file", path_}});
    return;
  }
  absl::MutexLock l(&mu_);
  history_ = std::move(loaded);
}

absl::Status CompactionHistoryStore::Add(const v1::CompactionRun& run) {
  absl::MutexLock l(&mu_);
  v1::CompactionHistory updated;
  *updated.add_runs() = run;
  for (const auto& old : history_.runs()) {
    if (updated.runs_size() == kRuns) break;
    *updated.add_runs() = old;
  }
  history_ = std::move(updated);
  return files::WriteFileAtomically(env_, path_, json::ToJson(history_));
}

v1::CompactionHistory CompactionHistoryStore::Get() const {
  absl::MutexLock l(&mu_);
  return history_;
}

}  // namespace agentcom::maintenance
