#include "common/storage/table_metrics.h"

#include "absl/strings/ascii.h"
#include "absl/strings/strip.h"

namespace agentcom::storage {
namespace {

using common::v1::TableState_Name;

prometheus::MetricFamily Gauge(std::string name, std::string help) {
  prometheus::MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = prometheus::MetricType::Gauge;
  return f;
}

void Add(prometheus::MetricFamily* f, std::vector<prometheus::ClientMetric::Label> labels,
         double value) {
  prometheus::ClientMetric m;
  m.label = std::move(labels);
  if (f->type == prometheus::MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  f->metric.push_back(std::move(m));
}

}  // namespace

std::string StateName(TableState state) {
  std::string name = TableState_Name(state);
  return absl::AsciiStrToLower(absl::StripPrefix(name, "TABLE_STATE_"));
}

void TableMetrics::Detach() {
  absl::MutexLock l(&mu_);
  tables_.clear();
}

std::vector<prometheus::MetricFamily> TableMetrics::Collect() const {
  absl::MutexLock l(&mu_);
  auto records = Gauge("agentcom_table_records", "Live records in the table.");
  auto disk = Gauge("agentcom_table_disk_bytes", "Bytes of the table's LevelDB files on disk.");
  auto live = Gauge("agentcom_table_live_bytes",
                    "Estimated bytes of the table right after a full compaction.");
  auto frag = Gauge("agentcom_table_fragmentation_ratio",
                    "Share of disk bytes a full compaction would reclaim "
                    "((disk - live - 64 KiB) / disk, in [0, 1]).");
  auto archive = Gauge("agentcom_table_wal_archive_bytes",
                       "Bytes of write-ahead logs kept in the table's archive for restores.");
  auto ship_lag_bytes =
      Gauge("agentcom_table_wal_ship_lag_bytes",
            "Bytes of the table's write-ahead logs not yet shipped to the backup directory.");
  auto ship_lag_seconds =
      Gauge("agentcom_table_wal_ship_lag_seconds",
            "Seconds since every byte of the table's write-ahead logs was last shipped to the "
            "backup directory: the writes a lost data directory would lose.");
  auto shipped = Gauge("agentcom_table_wal_shipped_bytes_total",
                       "Bytes of write-ahead logs shipped to the backup directory.");
  shipped.type = prometheus::MetricType::Counter;
  auto ship_failures = Gauge("agentcom_table_wal_ship_failures_total",
                             "Rounds of write-ahead log shipping that failed.");
  ship_failures.type = prometheus::MetricType::Counter;
  auto state = Gauge("agentcom_table_state", "1 for the table's current state, 0 for the others.");
  auto degraded = Gauge("agentcom_table_degraded",
                        "1 when the table was restored empty because no "
                        "backup was usable.");
  const TableState kStates[] = {common::v1::TABLE_STATE_OK, common::v1::TABLE_STATE_CORRUPTED,
                                common::v1::TABLE_STATE_RESTORING,
                                common::v1::TABLE_STATE_DEGRADED};
  for (Table* table : tables_) {
    const TableStats s = table->Stats();
    const std::string& t = s.table();
    Add(&records, {{"table", t}}, static_cast<double>(s.records()));
    Add(&disk, {{"table", t}}, static_cast<double>(s.disk_bytes()));
    Add(&live, {{"table", t}}, static_cast<double>(s.live_bytes()));
    Add(&frag, {{"table", t}}, s.fragmentation_ratio());
    Add(&archive, {{"table", t}}, static_cast<double>(s.wal_archive_bytes()));
    if (s.wal_shipped_through_unix_seconds() > 0 || s.wal_ship_lag_seconds() > 0) {
      Add(&ship_lag_bytes, {{"table", t}}, static_cast<double>(s.wal_ship_lag_bytes()));
      Add(&ship_lag_seconds, {{"table", t}}, s.wal_ship_lag_seconds());
      Add(&shipped, {{"table", t}}, static_cast<double>(s.wal_shipped_bytes()));
      Add(&ship_failures, {{"table", t}}, static_cast<double>(s.wal_ship_failures()));
    }
    for (TableState st : kStates) {
      Add(&state, {{"table", t}, {"state", StateName(st)}}, s.state() == st ? 1 : 0);
    }
    Add(&degraded, {{"table", t}}, s.state() == common::v1::TABLE_STATE_DEGRADED ? 1 : 0);
  }
  return {records,          disk,    live,          frag,  archive, ship_lag_bytes,
          ship_lag_seconds, shipped, ship_failures, state, degraded};
}

}  // namespace agentcom::storage
