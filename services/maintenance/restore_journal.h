#ifndef AGENTCOM_SERVICES_MAINTENANCE_RESTORE_JOURNAL_H_
#define AGENTCOM_SERVICES_MAINTENANCE_RESTORE_JOURNAL_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "agentcom/maintenance/v1/state.pb.h"

namespace leveldb {
class Env;
}

namespace agentcom::maintenance {

// "stopping", "verifying", ...: a step's name in logs, fault-injection points
// and the legacy journal format.
std::string StepName(v1::RestoreStep step);

// The journals of restores in progress, one file per table
// (<dir>/<table>.json, the JSON mapping of RestoreJournal), each written
// atomically (fsync, rename, directory fsync) before the step it names runs.
// Thread-safe as far as the Env is; a table's journal is only written by
// the one restore holding the table's lock.
class RestoreJournalStore {
 public:
  // `env` (not owned) does the file I/O.
  RestoreJournalStore(leveldb::Env* env, std::string dir);

  // Records that `journal.table()`'s restore is about to run
  // `journal.step()`. An error is returned (and logged by the caller); the
  // restore may go on, since the journal only shortens a later resume.
  absl::Status Write(const v1::RestoreJournal& journal);
  // Forgets the table's restore (it finished). Durable.
  absl::Status Remove(const std::string& table);
  // Every journal on disk. Unreadable files are logged and skipped. Reads
  // the format of earlier versions (a RestoreResult whose reason held the
  // step name) too.
  std::vector<v1::RestoreJournal> LoadAll() const;

 private:
  std::string PathOf(const std::string& table) const;

  leveldb::Env* const env_;
  const std::string dir_;
};

}  // namespace agentcom::maintenance

#endif  // AGENTCOM_SERVICES_MAINTENANCE_RESTORE_JOURNAL_H_
