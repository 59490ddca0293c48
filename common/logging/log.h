#ifndef AGENTCOM_COMMON_LOGGING_LOG_H_
#define AGENTCOM_COMMON_LOGGING_LOG_H_

#include <cstdint>
#include <initializer_list>
#include <string>
#include "absl/strings/string_view.h"

namespace agentcom::log {

// One key=value pair of a structured log line.
struct Field {
  Field(absl::string_view k, absl::string_view v) : key(k), value(v) {}
  Field(absl::string_view k, const char* v) : key(k), value(v) {}
  Field(absl::string_view k, const std::string& v) : key(k), value(v) {}
  Field(absl::string_view k, int64_t v) : key(k), value(std::to_string(v)) {}
  Field(absl::string_view k, uint64_t v) : key(k), value(std::to_string(v)) {}
  Field(absl::string_view k, int v) : key(k), value(std::to_string(v)) {}
  Field(absl::string_view k, unsigned v) : key(k), value(std::to_string(v)) {}
  Field(absl::string_view k, double v) : key(k), value(std::to_string(v)) {}
  absl::string_view key;
  std::string value;
};

using Fields = std::initializer_list<Field>;

// Sets the process name written on every line and the minimum level
// ("debug", "info", "warn", "error", "critical"; unknown names mean "info").
// Lines go to stderr in logfmt, which supervisord collects into its log
// files. Thread-safe after the first call; call it once, early in main().
void Init(absl::string_view process, absl::string_view level);

// Thread-safe. Secrets (tokens) must never be passed in a message or field.
void Debug(absl::string_view msg, Fields fields = {});
void Info(absl::string_view msg, Fields fields = {});
void Warn(absl::string_view msg, Fields fields = {});
void Error(absl::string_view msg, Fields fields = {});
// For conditions that need an operator now (a table in degraded mode).
void Critical(absl::string_view msg, Fields fields = {});
// Writes out anything buffered (before a process ends without unwinding).
void Flush();

// logfmt rendering of one line without timestamp and level; for tests.
std::string Format(absl::string_view msg, Fields fields);

}  // namespace agentcom::log

#endif  // AGENTCOM_COMMON_LOGGING_LOG_H_
