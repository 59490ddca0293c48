#include "services/maintenance/compactor.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/fault/fault.h"
#include "common/logging/log.h"
#include "common/server/api_checks.h"

namespace agentcom::maintenance {

v1::CompactionRun Compactor::NewRun(v1::Trigger trigger, bool force) const {
  v1::CompactionRun run;
  *run.mutable_time() = server::ToProtoTime(options_.clock->Now());
  run.set_trigger(TriggerName(trigger));
  run.set_forced(force);
  return run;
}

v1::CompactionResult Compactor::CompactTable(const std::string& table, bool force) {
  const absl::Time start = options_.clock->Now();
  v1::CompactionResult r;
  r.set_table(table);
  auto stats = options_.stores->GetTableStats(table);
  if (!stats.ok()) {
    r.set_outcome(v1::COMPACTION_OUTCOME_ERROR);
    r.set_reason(std::string(stats.status().message()));
  } else {
    r.set_fragmentation_before(stats->fragmentation_ratio());
    r.set_disk_bytes_before(stats->disk_bytes());
    if (!force && stats->fragmentation_ratio() < options_.threshold) {
      r.set_outcome(v1::COMPACTION_OUTCOME_SKIPPED);
      r.set_reason("below_threshold");
    } else {
      auto compacted = options_.stores->Compact(table);
      if (!compacted.ok()) {  // C5: once more, then left for the next run
        log::Warn("compaction failed; retrying once",
                  {{"table", table}, {"error", std::string(compacted.status().message())}});
        r.set_retried(true);
        compacted = options_.stores->Compact(table);
      }
      fault::KillHereIfAsked("compaction");
      if (compacted.ok()) {
        r.set_outcome(v1::COMPACTION_OUTCOME_COMPACTED);
        r.set_fragmentation_after(compacted->after().fragmentation_ratio());
        r.set_disk_bytes_after(compacted->after().disk_bytes());
      } else {
        r.set_outcome(v1::COMPACTION_OUTCOME_ERROR);
        r.set_reason(std::string(compacted.status().message()));
      }
    }
  }
  r.set_duration_seconds(absl::ToDoubleSeconds(options_.clock->Now() - start));
  options_.metrics->Compaction(table, r.outcome(), r.duration_seconds());
  return r;
}

v1::CompactionRun Compactor::FinishRun(v1::CompactionRun run) {
  std::vector<std::string> failed;
  for (const auto& r : run.results()) {
    if (r.outcome() == v1::COMPACTION_OUTCOME_COMPACTED) run.set_compacted(run.compacted() + 1);
    if (r.outcome() == v1::COMPACTION_OUTCOME_SKIPPED) run.set_skipped(run.skipped() + 1);
    if (r.outcome() == v1::COMPACTION_OUTCOME_ERROR) {
      run.set_failed(run.failed() + 1);
      failed.push_back(r.table());
    }
  }
  run.set_tables_total(run.results_size());
  run.set_duration_seconds(
      absl::ToDoubleSeconds(options_.clock->Now() - server::FromProtoTime(run.time())));
  if (auto s = options_.history->Add(run); !s.ok()) {
    log::Error("cannot persist compaction history", {{"error", std::string(s.message())}});
  }
  options_.events->Add("compaction_complete", run.results_size() == 1 ? run.results(0).table() : "",
                       absl::StrCat("compacted ", run.compacted(), ", skipped ", run.skipped(),
                                    ", failed ", run.failed(), " of ", run.tables_total()),
                       {{"compacted", absl::StrCat(run.compacted())},
                        {"skipped", absl::StrCat(run.skipped())},
                        {"failed", absl::StrCat(run.failed())},
                        {"trigger", run.trigger()}});
  if (!failed.empty()) {
    options_.events->Add("compaction_failed", absl::StrJoin(failed, ","),
                         absl::StrCat("compaction failed for ", absl::StrJoin(failed, ", ")),
                         {{"trigger", run.trigger()}});
  }
  return run;
}

}  // namespace agentcom::maintenance
