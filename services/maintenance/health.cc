#include "services/maintenance/health.h"

#include "absl/strings/str_cat.h"

namespace agentcom::maintenance {
namespace {

std::string OutcomeText(const v1::CompactionResult& r) {
  const char* outcome = r.outcome() == v1::COMPACTION_OUTCOME_COMPACTED ? "compacted"
                        : r.outcome() == v1::COMPACTION_OUTCOME_SKIPPED ? "skipped"
                        : r.outcome() == v1::COMPACTION_OUTCOME_ERROR   ? "error"
                                                                        : "unknown";
  return r.reason().empty() ? outcome : absl::StrCat(outcome, ": ", r.reason());
}

}  // namespace

v1::GetHealthResponse HealthReporter::Get() const {
  v1::GetHealthResponse out;
  out.set_compaction_threshold(options_.topology->maintenance().compaction_threshold());
  const v1::CompactionHistory history = options_.history->Get();
  for (const auto& store : options_.topology->stores()) {
    for (const auto& t : store.tables()) {
      v1::TableHealth* h = out.add_tables();
      h->set_store(store.name());
      if (auto last = options_.backups->LastResult(t.name()); last.has_value()) {
        h->set_last_backup_result(*last);
      }
      auto stats = options_.stores->GetTableStats(t.name());
      if (stats.ok()) {
        *h->mutable_stats() = *stats;
      } else {
        h->mutable_stats()->set_table(t.name());
        h->mutable_stats()->set_state(common::v1::TABLE_STATE_UNAVAILABLE);
        h->mutable_stats()->set_state_reason(std::string(stats.status().message()));
      }
      if (options_.restoring(t.name())) {
        h->mutable_stats()->set_state(common::v1::TABLE_STATE_RESTORING);
      }
      if (auto backups = options_.backups->List({t.name()});
          backups.ok() && backups->backups_size()) {
        h->set_backups_retained(static_cast<uint32_t>(backups->backups_size()));
        h->set_last_backup_id(backups->backups(0).backup_id());
        if (backups->backups(0).has_created()) {
          *h->mutable_last_backup_time() = backups->backups(0).created();
        }
      }
      for (const auto& run : history.runs()) {  // newest first
        const v1::CompactionResult* found = nullptr;
        for (const auto& r : run.results()) {
          if (r.table() == t.name()) found = &r;
        }
        if (found == nullptr) continue;
        *h->mutable_last_compaction_time() = run.time();
        h->set_last_compaction_result(OutcomeText(*found));
        break;
      }
    }
  }
  return out;
}

}  // namespace agentcom::maintenance
