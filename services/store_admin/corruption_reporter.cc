#include "services/store_admin/corruption_reporter.h"

#include <google/protobuf/util/time_util.h>
#include <grpcpp/client_context.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/logging/log.h"

namespace agentcom::store_admin {

MaintenanceReporter::MaintenanceReporter(
    Options options, std::unique_ptr<maintenance::v1::Maintenance::StubInterface> stub)
    : options_(std::move(options)), stub_(std::move(stub)) {
  thread_ = std::thread([this] { Run(); });
}

MaintenanceReporter::~MaintenanceReporter() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
    for (const Report& r : queue_) {
      log::Warn("corruption report not delivered before shutdown", {{"table", r.table}});
    }
  }
  thread_.join();
}

void MaintenanceReporter::OnCorruption(const std::string& table, const std::string& reason,
                                       std::optional<uint64_t> records) {
  absl::MutexLock l(&mu_);
  queue_.push_back({table, reason, records, absl::Now()});
}

uint64_t MaintenanceReporter::delivered() const {
  absl::MutexLock l(&mu_);
  return delivered_;
}

void MaintenanceReporter::Run() {
  absl::Duration backoff = options_.initial_backoff;
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || !queue_.empty(); };
  while (true) {
    Report report;
    {
      absl::MutexLock l(&mu_);
      mu_.Await(absl::Condition(&ready));
      if (stopping_) return;
      report = queue_.front();
    }
    maintenance::v1::ReportCorruptionRequest request;
    request.set_store(options_.store);
    request.set_table(report.table);
    request.set_reason(report.reason);
    if (report.records.has_value()) request.set_records(*report.records);
    *request.mutable_detected_at() = google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
        absl::ToUnixNanos(report.detected_at));
    maintenance::v1::ReportCorruptionResponse response;
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + options_.rpc_timeout));
    context.AddMetadata("authorization", absl::StrCat("Bearer ", options_.admin_token));
    grpc::Status status = stub_->ReportCorruption(&context, request, &response);
    absl::MutexLock l(&mu_);
    if (status.ok()) {
      log::Info("corruption reported to maintenance",
                {{"table", report.table},
                 {"restore_started", response.restore_started() ? "true" : "false"}});
      queue_.pop_front();
      ++delivered_;
      backoff = options_.initial_backoff;
      continue;
    }
    log::Warn("cannot report corruption to maintenance; will retry",
              {{"table", report.table},
               {"code", static_cast<int>(status.error_code())},
               {"error", status.error_message()},
               {"retry_in_ms", absl::ToInt64Milliseconds(backoff)}});
    auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
    mu_.AwaitWithTimeout(absl::Condition(&stopping), backoff);
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

}  // namespace agentcom::store_admin
