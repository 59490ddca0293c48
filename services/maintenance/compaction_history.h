#ifndef AGENTCOM_SERVICES_MAINTENANCE_COMPACTION_HISTORY_H_
#define AGENTCOM_SERVICES_MAINTENANCE_COMPACTION_HISTORY_H_

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "agentcom/maintenance/v1/maintenance.pb.h"

namespace leveldb {
class Env;
}

namespace agentcom::maintenance {

// The last compaction runs, newest first (REQUIREMENTS C7), kept in one JSON
// file (the protobuf JSON mapping of CompactionHistory) that is rewritten
// atomically after every run, so it survives a restart of maintenance.
// Thread-safe.
class CompactionHistoryStore {
 public:
  static constexpr int kRuns = 20;

  // `env` (not owned) does the file I/O.
  CompactionHistoryStore(leveldb::Env* env, std::string path);

  // Reads the file if there is one. An unreadable file is logged and
  // ignored (the history starts empty): it only informs operators.
  void Load();
  // Puts `run` first, keeps the newest kRuns and persists them. An error
  // writing the file is returned; the run is kept in memory regardless.
  absl::Status Add(const v1::CompactionRun& run);
  v1::CompactionHistory Get() const;

 private:
  leveldb::Env* const env_;
  const std::string path_;
  mutable absl::Mutex mu_;
  v1::CompactionHistory history_ ABSL_GUARDED_BY(mu_);
};

}  // namespace agentcom::maintenance

#endif  // AGENTCOM_SERVICES_MAINTENANCE_COMPACTION_HISTORY_H_
