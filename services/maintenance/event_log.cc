#include "services/maintenance/event_log.h"

#include <leveldb/env.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/files/files.h"
#include "common/json/json.h"
#include "common/logging/log.h"
#include "common/server/api_checks.h"

namespace agentcom::maintenance {

EventLog::EventLog(std::string path, Clock* clock, size_t capacity, leveldb::Env* env)
    : path_(std::move(path)),
      clock_(clock),
      capacity_(capacity),
      env_(env != nullptr ? env : leveldb::Env::Default()) {}

absl::Status EventLog::Load() {
  absl::StatusOr<std::string> text = files::ReadFile(env_, path_);
  if (absl::IsNotFound(text.status())) return absl::OkStatus();
  if (!text.ok()) return text.status();
  absl::MutexLock l(&mu_);
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    v1::Event e;
    if (!json::FromJson(std::string(line), &e).ok()) {
      log::Warn("skipping an unreadable event line", {{"file", path_}});
      continue;
    }
    next_id_ = std::max(next_id_, e.id() + 1);
    events_.push_back(std::move(e));
  }
  while (events_.size() > capacity_) events_.pop_front();
  return absl::OkStatus();
}

absl::Status EventLog::Persist() {
  std::string out;
  for (const auto& e : events_) absl::StrAppend(&out, json::ToJson(e, /*pretty=*/false), "\n");
  return files::WriteFileAtomically(env_, path_, out);
}

v1::Event EventLog::Add(const std::string& type, const std::string& table,
                        const std::string& message, std::map<std::string, std::string> details) {
  v1::Event e;
  std::vector<std::function<void(const v1::Event&)>> listeners;
  {
    absl::MutexLock l(&mu_);
    e.set_id(next_id_++);
    *e.mutable_time() = server::ToProtoTime(clock_->Now());
    e.set_type(type);
    e.set_table(table);
    e.set_message(message);
    for (auto& [k, v] : details) (*e.mutable_details())[k] = v;
    events_.push_back(e);
    while (events_.size() > capacity_) events_.pop_front();
    if (auto s = Persist(); !s.ok()) {
      log::Error("cannot persist events", {{"error", std::string(s.message())}});
    }
    listeners = listeners_;
  }
  log::Info("event", {{"id", e.id()}, {"type", type}, {"table", table}, {"message", message}});
  for (auto& f : listeners) f(e);
  return e;
}

std::vector<v1::Event> EventLog::After(uint64_t after_id, size_t limit) const {
  absl::MutexLock l(&mu_);
  std::vector<v1::Event> out;
  for (const auto& e : events_) {
    if (e.id() > after_id) {
      out.push_back(e);
      if (out.size() == limit) break;
    }
  }
  return out;
}

bool EventLog::WaitAfter(uint64_t after_id, absl::Duration timeout) const {
  absl::MutexLock l(&mu_);
  auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return next_id_ > after_id + 1; };
  return mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
}

void EventLog::OnEvent(std::function<void(const v1::Event&)> listener) {
  absl::MutexLock l(&mu_);
  listeners_.push_back(std::move(listener));
}

}  // namespace agentcom::maintenance
