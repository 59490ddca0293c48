#ifndef AGENTCOM_COMMON_STORAGE_WAL_SHIPPER_H_
#define AGENTCOM_COMMON_STORAGE_WAL_SHIPPER_H_

#include <cstdint>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock/clock.h"
#include "common/storage/wal_archive.h"

namespace leveldb {
class Env;
}

namespace agentcom::storage {

// Shipped write-ahead logs live beside a table's backups, one directory per
// history of the table (its generation: a restore starts a new one, whose
// log numbers may repeat the old history's):
//   <backup_root>/<table>/wal/<generation>/NNNNNN.log
inline constexpr char kShippedWalDir[] = "wal";
std::string ShippedWalRoot(const std::string& backup_root, absl::string_view table);
std::string ShippedWalDir(const std::string& backup_root, absl::string_view table,
                          absl::string_view generation);

// What a WalShipper has done, for TableStats and its metrics.
struct ShipProgress {
  // Bytes copied since the shipper started.
  uint64_t shipped_bytes = 0;
  // Bytes of the table's logs that were not shipped when the last round
  // started (what one interval's writes add), or that a failed round left.
  uint64_t lag_bytes = 0;
  // Every byte the table's logs held at this moment is shipped: the point
  // that losing the whole data directory would go back to. InfinitePast
  // until the first round completes.
  absl::Time shipped_through = absl::InfinitePast();
  // Now - shipped_through (counted from the shipper's creation before the
  // first round completes).
  absl::Duration lag;
  uint64_t failures = 0;
  std::string last_error;
};

// Copies a table's write-ahead logs, archived (wal_archive.h) and live, to
// the backup directory as they grow, so that losing the whole data directory
// loses at most one shipping interval of acknowledged writes. LevelDB only
// ever appends to a log, so each round appends to each shipped copy the
// bytes its log gained since the last round (fsynced), and a copy is always
// a prefix of its log; a round interrupted by a crash leaves a shorter
// prefix, which the next round continues. The copy may end inside a record
// (a write in flight): a restore reads it as a torn tail, as LevelDB would.
// A log shorter than its shipped copy (truncated by damage) is reported and
// its copy, the longer one, is kept. Thread-safe.
class WalShipper {
 public:
  // `table_dir` is the table's LevelDB directory (holding kGenerationFile);
  // `ship_root` is ShippedWalRoot() of the table.
  WalShipper(leveldb::Env* env, Clock* clock, std::string table_dir, std::string ship_root);
  ~WalShipper();
  WalShipper(const WalShipper&) = delete;
  WalShipper& operator=(const WalShipper&) = delete;

  // Runs ShipOnce every `interval` on a thread at nice 10 until destroyed.
  void Start(absl::Duration interval);

  // One round. Errors: the table has no generation yet (not opened), the
  // destination cannot be written (UNAVAILABLE / RESOURCE_EXHAUSTED).
  absl::Status ShipOnce();

  ShipProgress Progress() const;

 private:
  // Appends bytes [copied, size) of `log` to `dest`, its shipped copy.
  absl::Status ShipLog(const WalLog& log, const std::string& dest, uint64_t size, uint64_t copied,
                       uint64_t* shipped);
  void Loop(absl::Duration interval);

  leveldb::Env* const env_;
  Clock* const clock_;
  const std::string table_dir_;
  const std::string ship_root_;
  const absl::Time created_;

  // One round at a time.
  absl::Mutex round_mu_;
  std::string generation_ ABSL_GUARDED_BY(round_mu_);
  // Archived logs shipped whole in this generation: immutable, never
  // looked at again.
  std::map<uint64_t, uint64_t> complete_ ABSL_GUARDED_BY(round_mu_);
  // Logs already reported as shorter than their copies.
  std::map<uint64_t, uint64_t> reported_short_ ABSL_GUARDED_BY(round_mu_);

  mutable absl::Mutex mu_;
  ShipProgress progress_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// Compares the logs of the closed table directory `table_dir` with their
// shipped copies under `ship_root` (ShippedWalRoot), before LevelDB opens
// it: a log shorter than its shipped copy, or a shipped log newer than every
// log the table has, lost acknowledged writes that LevelDB would take for a
// crash before them and silently go without (reusing their sequence
// numbers). Returns a description of the first such log, or "" when there
// is none (or nothing was shipped for the table's generation).
std::string FindLogsLostSinceShipped(leveldb::Env* env, const std::string& table_dir,
                                     const std::string& ship_root);

// Picks, for each log number of the history a restore replays, the better of
// the table's own copy (`local`, from ListWalLogs on the damaged table) and
// the shipped one (`shipped`, from ListWalLogs on ShippedWalDir): the copy
// that reads without damage, else the one holding more intact batches; the
// local copy on a tie (it may hold a tail not shipped yet). Both lists are
// in number order; so is the result. Each choice of a shipped copy over a
// local one is described in `notes`.
std::vector<WalLog> ChooseWalLogs(leveldb::Env* env, const std::vector<WalLog>& local,
                                  const std::vector<WalLog>& shipped,
                                  std::vector<std::string>* notes);

}  // namespace agentcom::storage

#endif  // AGENTCOM_COMMON_STORAGE_WAL_SHIPPER_H_
