#ifndef AGENTCOM_TESTS_SUPPORT_TEST_SUPPORT_H_
#define AGENTCOM_TESTS_SUPPORT_TEST_SUPPORT_H_

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "common/config/topology.h"
#include "common/storage/table.h"

namespace agentcom::testing {

// A fresh directory under $TEST_TMPDIR or /tmp, removed with the object.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A port on 127.0.0.1 that was free a moment ago.
int FreePort();

// The largest file in `dir` whose extension is `ext` (".ldb"), or "".
std::string LargestFileWithExtension(const std::string& dir, const std::string& ext);

// Flips `count` bytes in the middle of the largest table file (.ldb) in a
// LevelDB directory, where the data blocks are. Returns the file changed.
std::string FlipBytesInLargestTableFile(const std::string& dir, int count = 64);

// Flips `count` bytes at `offset` of `path`.
void FlipBytes(const std::string& path, uint64_t offset, int count);

// Flips bytes in a file that belongs to backup `id` of `table` alone
// (format 2: its copy of LevelDB's MANIFEST, not a shared pool file;
// format 1: its first data file). Returns the file.
std::string DamageBackup(const std::string& backup_root, const std::string& table,
                         const std::string& id);

// The largest table file backup `id` of `table` lists (format 2: in the
// pool, possibly shared with other backups).
std::string LargestBackupTableFile(const std::string& backup_root, const std::string& table,
                                   const std::string& id);

// A topology rooted at `root` with the given stores (name -> tables), every
// address on 127.0.0.1 with a free port, maintenance at `maintenance_address`.
config::Topology MakeTopology(
    const std::string& root,
    const std::vector<std::pair<std::string, std::vector<std::string>>>& stores,
    const std::string& maintenance_address = "");

// The topology file MakeTopology parses (relative directories resolve
// against the file's directory).
std::string TopologyYaml(
    const std::vector<std::pair<std::string, std::vector<std::string>>>& stores,
    const std::string& maintenance_address = "");

// Body of GET http://127.0.0.1:<port><path>, or "" when it fails.
std::string HttpGet(int port, const std::string& path);

// Opens a table named `name` in <dir>/<name> with small default settings.
std::unique_ptr<storage::Table> OpenTestTable(
    const std::string& dir, const std::string& name,
    common::v1::Durability durability = common::v1::DURABILITY_BUFFERED, Clock* clock = nullptr);

// Wraps a table; while `fail_writes` is set every Write fails with
// UNAVAILABLE, as if the process died before the write reached the disk.
// `write_delay_ms` makes every write take that much longer (a slow fsync),
// to widen the windows that writes leave to concurrent callers.
class FailingTable : public storage::Table {
 public:
  explicit FailingTable(storage::Table* base) : base_(base) {}
  std::atomic<bool> fail_writes{false};
  std::atomic<int> write_delay_ms{0};

  const std::string& name() const override { return base_->name(); }
  storage::TableState state() const override { return base_->state(); }
  absl::StatusOr<std::optional<std::string>> Get(absl::string_view key) override {
    return base_->Get(key);
  }
  absl::Status Put(absl::string_view key, absl::string_view value) override {
    storage::TableBatch b;
    b.Put(key, value);
    return Write(b);
  }
  absl::Status Delete(absl::string_view key) override {
    storage::TableBatch b;
    b.Delete(key);
    return Write(b);
  }
  absl::Status Write(const storage::TableBatch& batch) override {
    if (fail_writes) return absl::UnavailableError("injected: process died");
    if (write_delay_ms > 0) absl::SleepFor(absl::Milliseconds(write_delay_ms.load()));
    return base_->Write(batch);
  }
  absl::Status Scan(
      absl::string_view start, absl::string_view limit,
      const std::function<bool(absl::string_view, absl::string_view)>& visit) override {
    return base_->Scan(start, limit, visit);
  }
  storage::TableStats Stats() override { return base_->Stats(); }
  absl::Status Compact() override { return base_->Compact(); }
  absl::StatusOr<uint64_t> NextSequence(uint64_t last) override {
    return base_->NextSequence(last);
  }
  absl::StatusOr<storage::VerifyResult> Verify() override { return base_->Verify(); }
  absl::StatusOr<storage::BackupManifest> Snapshot(const std::string& root) override {
    return base_->Snapshot(root);
  }
  absl::Status Reopen(bool repair) override { return base_->Reopen(repair); }
  absl::StatusOr<storage::VerifyResult> FinishRestore(
      const storage::RestoreExpectation& expected) override {
    return base_->FinishRestore(expected);
  }

 private:
  storage::Table* base_;
};

// A tmpfs of `size_mb` mounted at `dir` (created if needed) for disk-full
// tests; unmounted with the object. ok() is false where mounting is not
// permitted (not root, or no CAP_SYS_ADMIN), and error() says why.
class TmpfsMount {
 public:
  TmpfsMount(const std::string& dir, int size_mb);
  ~TmpfsMount();
  bool ok() const { return mounted_; }
  const std::string& error() const { return error_; }

 private:
  std::string dir_;
  bool mounted_ = false;
  std::string error_;
};

// Runs a shell command and returns its standard output; `status` gets the
// exit code.
std::string RunCommand(const std::string& command, int* status = nullptr);

// Token file contents.
std::string ReadFile(const std::string& path);

// Sets "authorization: Bearer <token>" on a context.
void Authorize(grpc::ClientContext* context, const std::string& token);

}  // namespace agentcom::testing

#endif  // AGENTCOM_TESTS_SUPPORT_TEST_SUPPORT_H_
