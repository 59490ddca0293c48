#include "common/storage/wal_archive.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <map>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/files/files.h"
#include "common/logging/log.h"
#include "common/storage/wal.h"

namespace agentcom::storage {

WalArchivingEnv::WalArchivingEnv(leveldb::Env* base, std::string table_dir, int background_nice)
    : leveldb::EnvWrapper(base),
      table_dir_(std::move(table_dir)),
      archive_dir_(absl::StrCat(table_dir_, "/", kWalArchiveDir)),
      background_nice_(background_nice) {}

void SetThisThreadNice(int nice) {
  (void)setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), nice);
}

namespace {

struct BackgroundJob {
  void (*function)(void*);
  void* arg;
  int nice;
};

// Runs on LevelDB's background thread (one per process, shared by every
// table of the Env it belongs to): sets the thread's priority when it is
// not yet the one the job asks for.
void RunBackgroundJob(void* p) {
  std::unique_ptr<BackgroundJob> job(static_cast<BackgroundJob*>(p));
  thread_local int applied = 0;
  if (job->nice != applied) {
    SetThisThreadNice(job->nice);
    applied = job->nice;
  }
  job->function(job->arg);
}

}  // namespace

void WalArchivingEnv::Schedule(void (*function)(void* arg), void* arg) {
  target()->Schedule(&RunBackgroundJob, new BackgroundJob{function, arg, background_nice_});
}

leveldb::Status WalArchivingEnv::RemoveFile(const std::string& fname) {
  {
    absl::MutexLock l(&mu_);
    if (holds_ > 0) {
      held_.push_back(fname);
      return leveldb::Status::OK();
    }
  }
  return Remove(fname);
}

// Forwards to the file LevelDB writes; tells the Env when it is done. Syncs
// every kSyncEveryBytes written (RocksDB's bytes_per_sync): a compaction
// otherwise leaves megabytes of dirty pages for the file's one final sync,
// and that burst of writeback delays the agents' log syncs queued behind it.
class WalArchivingEnv::TrackedFile final : public leveldb::WritableFile {
 public:
  static constexpr size_t kSyncEveryBytes = size_t{1} << 20;

  TrackedFile(WalArchivingEnv* env, std::string name, leveldb::WritableFile* base)
      : env_(env), name_(std::move(name)), base_(base) {}
  ~TrackedFile() override { env_->DoneWriting(name_); }
  leveldb::Status Append(const leveldb::Slice& data) override {
    leveldb::Status s = base_->Append(data);
    unsynced_ += data.size();
    if (s.ok() && unsynced_ >= kSyncEveryBytes) {
      unsynced_ = 0;
      s = base_->Flush();
      if (s.ok()) s = base_->Sync();
    }
    return s;
  }
  leveldb::Status Close() override { return base_->Close(); }
  leveldb::Status Flush() override { return base_->Flush(); }
  leveldb::Status Sync() override {
    unsynced_ = 0;
    return base_->Sync();
  }

 private:
  WalArchivingEnv* const env_;
  const std::string name_;
  const std::unique_ptr<leveldb::WritableFile> base_;
  // Appended since the last sync; LevelDB writes a file from one thread.
  size_t unsynced_ = 0;
};

leveldb::Status WalArchivingEnv::NewWritableFile(const std::string& fname,
                                                 leveldb::WritableFile** result) {
  const bool table_file = absl::EndsWith(fname, ".ldb") || absl::EndsWith(fname, ".sst");
  if (!table_file) return target()->NewWritableFile(fname, result);
  {
    absl::MutexLock l(&mu_);
    writing_.insert(fname);
  }
  leveldb::WritableFile* base = nullptr;
  leveldb::Status s = target()->NewWritableFile(fname, &base);
  if (!s.ok()) {
    DoneWriting(fname);
    *result = nullptr;
    return s;
  }
  *result = new TrackedFile(this, fname, base);
  return s;
}

bool WalArchivingEnv::IsBeingWritten(const std::string& fname) {
  absl::MutexLock l(&mu_);
  return writing_.count(fname) > 0;
}

void WalArchivingEnv::DoneWriting(const std::string& fname) {
  absl::MutexLock l(&mu_);
  writing_.erase(fname);
}

void WalArchivingEnv::HoldDeletions() {
  absl::MutexLock l(&mu_);
  ++holds_;
}

void WalArchivingEnv::ReleaseDeletions() {
  std::vector<std::string> held;
  {
    absl::MutexLock l(&mu_);
    if (--holds_ > 0) return;
    held.swap(held_);
  }
  for (const std::string& f : held) {
    if (!target()->FileExists(f)) continue;  // a reopen removed it meanwhile
    leveldb::Status s = Remove(f);
    if (!s.ok()) {
      log::Warn(
          "cannot remove a file whose deletion was held for a backup; LevelDB removes it "
          "at the next open",
          {{"file", f}, {"error", s.ToString()}});
    }
  }
}

leveldb::Status WalArchivingEnv::Remove(const std::string& fname) {
  const std::string dir = files::Parent(fname);
  const std::string name = fname.substr(dir.size() + 1);
  if (dir != table_dir_ || !LogFileNumber(name).has_value()) return target()->RemoveFile(fname);
  leveldb::Status s = target()->CreateDir(archive_dir_);  // exists after the first time
  s = target()->RenameFile(fname, absl::StrCat(archive_dir_, "/", name));
  if (!s.ok()) {
    // Keeping the log where it is loses nothing; LevelDB ignores the error
    // and tries again at its next clean-up.
    log::Warn("cannot archive a write-ahead log; it stays in place",
              {{"file", fname}, {"error", s.ToString()}});
    return s;
  }
  (void)files::SyncDirectory(archive_dir_);
  return leveldb::Status::OK();
}

std::vector<WalLog> ListWalLogs(leveldb::Env* env, const std::string& dir, uint64_t first) {
  std::map<uint64_t, std::string> logs;
  for (const std::string& d : {absl::StrCat(dir, "/", kWalArchiveDir), dir}) {
    std::vector<std::string> names;
    if (!env->GetChildren(d, &names).ok()) continue;  // no archive yet
    for (const std::string& name : names) {
      std::optional<uint64_t> number = LogFileNumber(name);
      if (number.has_value() && *number >= first) logs[*number] = absl::StrCat(d, "/", name);
    }
  }
  std::vector<WalLog> out;
  for (auto& [number, path] : logs) out.push_back({number, std::move(path)});
  return out;
}

}  // namespace agentcom::storage
