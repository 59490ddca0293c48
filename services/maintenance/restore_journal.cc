#include "services/maintenance/restore_journal.h"

#include <leveldb/env.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agentcom/maintenance/v1/maintenance.pb.h"
#include "common/files/files.h"
#include "common/json/json.h"
#include "common/logging/log.h"

namespace agentcom::maintenance {
namespace {

constexpr char kStepPrefix[] = "RESTORE_STEP_";

// Journals written before RestoreJournal existed: a RestoreResult with the
// step name in `reason` and the trigger as a string.
bool ParseLegacy(const std::string& text, v1::RestoreJournal* out) {
  v1::RestoreResult legacy;
  v1::RestoreStep step;
  if (!json::FromJson(text, &legacy).ok() ||
      !v1::RestoreStep_Parse(absl::StrCat(kStepPrefix, absl::AsciiStrToUpper(legacy.reason())),
                             &step)) {
    return false;
  }
  out->set_table(legacy.table());
  out->set_trigger(legacy.trigger() == "auto" ? v1::TRIGGER_AUTO : v1::TRIGGER_MANUAL);
  out->set_step(step);
  out->set_backup_id(legacy.backup_id());
  out->set_quarantine_path(legacy.quarantine_path());
  return true;
}

}  // namespace

std::string StepName(v1::RestoreStep step) {
  std::string name = v1::RestoreStep_Name(step);
  if (absl::StartsWith(name, kStepPrefix)) name = name.substr(strlen(kStepPrefix));
  return absl::AsciiStrToLower(name);
}

RestoreJournalStore::RestoreJournalStore(leveldb::Env* env, std::string dir)
    : env_(env), dir_(std::move(dir)) {}

std::string RestoreJournalStore::PathOf(const std::string& table) const {
  return absl::StrCat(dir_, "/", table, ".json");
}

absl::Status RestoreJournalStore::Write(const v1::RestoreJournal& journal) {
  if (auto s = files::CreateDirs(env_, dir_); !s.ok()) return s;
  return files::WriteFileAtomically(env_, PathOf(journal.table()), json::ToJson(journal));
}

absl::Status RestoreJournalStore::Remove(const std::string& table) {
  return files::RemoveFileDurably(env_, PathOf(table));
}

std::vector<v1::RestoreJournal> RestoreJournalStore::LoadAll() const {
  std::vector<v1::RestoreJournal> out;
  std::vector<std::string> names;
  if (!env_->GetChildren(dir_, &names).ok()) return out;
  for (const std::string& name : names) {
    if (!absl::EndsWith(name, ".json")) continue;  // e.g. a torn .tmp
    const std::string path = absl::StrCat(dir_, "/", name);
    absl::StatusOr<std::string> text = files::ReadFile(env_, path);
    v1::RestoreJournal journal;
    if (!text.ok() || (!json::FromJson(*text, &journal).ok() && !ParseLegacy(*text, &journal)) ||
        journal.table().empty()) {
      log::Warn("ignoring an unreadable restore journal", {{"file", path}});
      continue;
    }
    out.push_back(std::move(journal));
  }
  return out;
}

}  // namespace agentcom::maintenance
