#ifndef AGENTCOM_COMMON_STORAGE_LINKED_WRITER_H_
#define AGENTCOM_COMMON_STORAGE_LINKED_WRITER_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/storage/table.h"

namespace agentcom::storage {

// Keys starting with this prefix are reserved in every table for
// LinkedWriter's intent records; stores must not use '~' as a first byte.
inline constexpr char kIntentPrefix[] = "~intent/";

// Makes a change spanning two tables of one store atomic with respect to
// crashes. LevelDB batches are per table, so:
//   1. `first` is committed to table A in one batch together with an intent
//      record holding the operations meant for table B;
//   2. those operations are committed to B;
//   3. the intent record is deleted.
// A crash before 1 leaves nothing; after 1, the intent survives and
// Recover() (run at start-up, before serving) re-applies step 2 and 3.
// Every step only puts or deletes fixed values, so repeating it is harmless.
// Readers may observe the moment between 1 and 2; callers that must not
// serialise them with their own lock.
// Thread-safe if the tables are.
class LinkedWriter {
 public:
  LinkedWriter(Table* a, Table* b) : a_(a), b_(b) {}

  absl::Status Apply(const TableBatch& first, const TableBatch& second);

  // Completes every change a crash left between steps 1 and 3. Returns how
  // many were completed.
  absl::StatusOr<int> Recover();

 private:
  Table* const a_;
  Table* const b_;
};

}  // namespace agentcom::storage

#endif  // AGENTCOM_COMMON_STORAGE_LINKED_WRITER_H_
