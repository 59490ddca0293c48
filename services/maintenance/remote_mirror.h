#ifndef AGENTCOM_SERVICES_MAINTENANCE_REMOTE_MIRROR_H_
#define AGENTCOM_SERVICES_MAINTENANCE_REMOTE_MIRROR_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock/clock.h"
#include "common/remote/destination.h"

namespace leveldb {
class Env;
}

namespace agentcom::maintenance {

// Keeps a copy of the backup directory at an off-host destination
// (issue 16), table by table, under the same relative names:
//   <table>/pool/<name>                  shared table files, uploaded once
//   <table>/<backup_id>/<file>           a backup's own files; its
//                                        MANIFEST.json last, so a remote
//                                        manifest means a whole backup
//   <table>/wal/<generation>/NNNNNN.log  a shipped write-ahead log no longer
//                                        written (a newer one exists)
//   <table>/wal/<generation>/NNNNNN.log.<offset>
//                                        the log still growing, in segments:
//                                        each round uploads only the bytes
//                                        it gained (objects are immutable);
//                                        once it is complete it is uploaded
//                                        whole and its segments deleted
// Retention follows the local directory's: a backup older than the oldest
// local one, a pool file or a log no longer in the local directory is
// deleted remotely, but only after a round that uploaded every local
// backup, and only while the local directory holds one, so a lost or
// emptied local directory never deletes a remote copy.
//
// Fetch is the way back: it downloads what the destination has of a table
// that the local directory lacks, and the restore proceeds from the local
// directory as always (every file checked against its SHA-256 there).
//
// Thread-safe; one round or fetch of a table at a time.
class RemoteMirror {
 public:
  // Per table, for ListBackups and the metrics.
  struct Progress {
    uint64_t uploaded_bytes = 0;  // since start
    uint64_t uploaded_files = 0;
    // Bytes the last round found to upload and could not (0 after a round
    // that uploaded everything).
    uint64_t pending_bytes = 0;
    uint64_t failures = 0;
    std::string last_error;
    // Every file the local directory held at this moment is at the
    // destination. InfinitePast until a round completes.
    absl::Time remote_through = absl::InfinitePast();
    // Backups whose manifest is at the destination (ids).
    std::vector<std::string> remote_backups;
  };

  struct Options {
    remote::Destination* destination = nullptr;  // not owned
    leveldb::Env* env = nullptr;
    Clock* clock = nullptr;
    std::string backup_root;
    std::vector<std::string> tables;
    int parallelism = 4;
    // Called after each round of a table with its progress and the bytes
    // that round uploaded; may be empty.
    std::function<void(const std::string& table, const Progress& progress, uint64_t uploaded)>
        on_round;
    // Called once per table, from a round that found no backup of the table
    // in the local backup directory while the destination holds some (this
    // host lost its backups, or is a new host); may be empty.
    std::function<void(const std::string& table)> on_only_remote;
  };

  // What a Fetch downloaded.
  struct FetchReport {
    int backups = 0;
    int pool_files = 0;
    int logs = 0;
    uint64_t bytes = 0;
    // Objects that could not be downloaded or did not check out.
    std::vector<std::string> problems;
  };

  explicit RemoteMirror(Options options);
  ~RemoteMirror();
  RemoteMirror(const RemoteMirror&) = delete;
  RemoteMirror& operator=(const RemoteMirror&) = delete;

  std::string Describe() const { return options_.destination->Describe(); }

  // Runs SyncAll every `interval` on a thread at nice 10 until destroyed.
  void Start(absl::Duration interval);
  // One round over every table; the first error.
  absl::Status SyncAll();
  // One round for `table`: uploads what is new or grown, then deletes what
  // retention deleted locally (see the class comment).
  absl::Status Sync(const std::string& table);
  // Downloads the destination's backups of `table` missing locally, the
  // pool files they list that are missing, and shipped logs longer there
  // than here. Blocks. Fails only when the destination cannot be listed;
  // objects that fail are in the report's problems.
  absl::StatusOr<FetchReport> Fetch(const std::string& table);

  Progress progress(const std::string& table) const;

 private:
  absl::Mutex& TableMutex(const std::string& table);
  void Loop(absl::Duration interval);

  const Options options_;
  std::map<std::string, std::unique_ptr<absl::Mutex>> table_mu_;

  mutable absl::Mutex mu_;
  std::map<std::string, Progress> progress_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> reported_only_remote_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace agentcom::maintenance

#endif  // AGENTCOM_SERVICES_MAINTENANCE_REMOTE_MIRROR_H_
