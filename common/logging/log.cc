#include "common/logging/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <memory>

#include "absl/strings/str_cat.h"

namespace agentcom::log {
namespace {

std::shared_ptr<spdlog::logger>& Logger() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    auto l = spdlog::stderr_logger_mt("agentcom");
    l->set_pattern("%Y-%m-%dT%H:%M:%S.%fZ level=%l %v", spdlog::pattern_time_type::utc);
    return l;
  }();
  return logger;
}

std::string& ProcessName() {
  static std::string name = "agentcom";
  return name;
}

bool NeedsQuotes(absl::string_view v) {
  if (v.empty()) return true;
  for (char c : v) {
    if (c == ' ' || c == '"' || c == '=' || c == '\\' ||
        static_cast<unsigned char>(c) < 0x20) {
      return true;
    }
  }
  return false;
}

void AppendValue(std::string* out, absl::string_view v) {
  if (!NeedsQuotes(v)) {
    absl::StrAppend(out, v);
    return;
  }
  out->push_back('"');
  for (char c : v) {
    switch (c) {
      case '"': absl::StrAppend(out, "\\\""); break;
      case '\\': absl::StrAppend(out, "\\\\"); break;
      case '\n': absl::StrAppend(out, "\\n"); break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out->push_back('?');
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

void Write(spdlog::level::level_enum level, absl::string_view msg, Fields fields) {
  auto& logger = Logger();
  if (!logger->should_log(level)) return;
  std::string line = absl::StrCat("process=", ProcessName(), " ");
  absl::StrAppend(&line, Format(msg, fields));
  logger->log(level, line);
}

}  // namespace

void Init(absl::string_view process, absl::string_view level) {
  ProcessName() = std::string(process);
  spdlog::level::level_enum l = spdlog::level::info;
  if (level == "debug") l = spdlog::level::debug;
  if (level == "warn") l = spdlog::level::warn;
  if (level == "error") l = spdlog::level::err;
  if (level == "critical") l = spdlog::level::critical;
  Logger()->set_level(l);
  Logger()->flush_on(spdlog::level::warn);
}

void Flush() { Logger()->flush(); }

std::string Format(absl::string_view msg, Fields fields) {
  std::string out = "msg=";
  AppendValue(&out, msg);
  for (const Field& f : fields) {
    absl::StrAppend(&out, " ", f.key, "=");
    AppendValue(&out, f.value);
  }
  return out;
}

void Debug(absl::string_view msg, Fields fields) { Write(spdlog::level::debug, msg, fields); }
void Info(absl::string_view msg, Fields fields) { Write(spdlog::level::info, msg, fields); }
void Warn(absl::string_view msg, Fields fields) { Write(spdlog::level::warn, msg, fields); }
void Error(absl::string_view msg, Fields fields) { Write(spdlog::level::err, msg, fields); }
void Critical(absl::string_view msg, Fields fields) {
  Write(spdlog::level::critical, msg, fields);
}

}  // namespace agentcom::log
