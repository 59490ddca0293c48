#ifndef AGENTCOM_TESTS_SUPPORT_FAULTY_ENV_H_
#define AGENTCOM_TESTS_SUPPORT_FAULTY_ENV_H_

#include <leveldb/env.h>

#include <atomic>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"

namespace agentcom::testing {

// A leveldb::Env that injects I/O errors while armed: by default every write
// (append, flush, sync) fails with "No space left on device"; FailWrites
// narrows that to paths containing a filter, FailRenames fails renames into
// a path containing a filter instead; HoldNextSync stops a sync in its
// tracks until the test lets it go. Thread-safe.
class FaultyEnv : public leveldb::EnvWrapper {
 public:
  FaultyEnv() : leveldb::EnvWrapper(leveldb::Env::Default()) {}
  std::atomic<bool> armed{false};

  // Writes to files whose path contains `path_filter` fail with `error`
  // (the errno text); renames work.
  void FailWrites(std::string error, std::string path_filter = "") {
    absl::MutexLock l(&mu_);
    error_ = std::move(error);
    writes_ = true;
    path_filter_ = std::move(path_filter);
    rename_filter_.clear();
  }
  // Renames to a path containing `to_filter` fail with `error`; writes work.
  void FailRenames(std::string error, std::string to_filter) {
    absl::MutexLock l(&mu_);
    error_ = std::move(error);
    writes_ = false;
    rename_filter_ = std::move(to_filter);
  }

  // The next Sync of a file whose path contains `path_filter` waits until
  // ReleaseSync (armed or not); AwaitHeldSync returns once it waits.
  void HoldNextSync(std::string path_filter) {
    absl::MutexLock l(&mu_);
    hold_filter_ = std::move(path_filter);
    held_ = released_ = false;
  }
  void AwaitHeldSync() {
    absl::MutexLock l(&mu_);
    mu_.Await(absl::Condition(&held_));
  }
  void ReleaseSync() {
    absl::MutexLock l(&mu_);
    released_ = true;
  }

  leveldb::Status NewWritableFile(const std::string& f, leveldb::WritableFile** r) override {
    leveldb::Status s = target()->NewWritableFile(f, r);
    if (s.ok()) *r = new File(*r, this, f);
    return s;
  }
  leveldb::Status NewAppendableFile(const std::string& f, leveldb::WritableFile** r) override {
    leveldb::Status s = target()->NewAppendableFile(f, r);
    if (s.ok()) *r = new File(*r, this, f);
    return s;
  }
  leveldb::Status RenameFile(const std::string& from, const std::string& to) override {
    {
      absl::MutexLock l(&mu_);
      if (armed && !rename_filter_.empty() && absl::StrContains(to, rename_filter_)) {
        return leveldb::Status::IOError(from, error_);
      }
    }
    return target()->RenameFile(from, to);
  }

 private:
  // The error for a write to `path`, or OK.
  leveldb::Status WriteError(const std::string& path, const char* op) {
    absl::MutexLock l(&mu_);
    if (!armed || !writes_ || !absl::StrContains(path, path_filter_)) return leveldb::Status::OK();
    return leveldb::Status::IOError(op, error_);
  }

  void MaybeHoldSync(const std::string& path) {
    absl::MutexLock l(&mu_);
    if (hold_filter_.empty() || !absl::StrContains(path, hold_filter_)) return;
    hold_filter_.clear();
    held_ = true;
    mu_.Await(absl::Condition(&released_));
  }

  class File : public leveldb::WritableFile {
   public:
    File(leveldb::WritableFile* base, FaultyEnv* env, std::string path)
        : base_(base), env_(env), path_(std::move(path)) {}
    leveldb::Status Append(const leveldb::Slice& d) override {
      if (auto s = env_->WriteError(path_, "append"); !s.ok()) return s;
      return base_->Append(d);
    }
    leveldb::Status Close() override { return base_->Close(); }
    leveldb::Status Flush() override {
      if (auto s = env_->WriteError(path_, "flush"); !s.ok()) return s;
      return base_->Flush();
    }
    leveldb::Status Sync() override {
      if (auto s = env_->WriteError(path_, "sync"); !s.ok()) return s;
      env_->MaybeHoldSync(path_);
      return base_->Sync();
    }

   private:
    std::unique_ptr<leveldb::WritableFile> base_;
    FaultyEnv* env_;
    const std::string path_;
  };

  absl::Mutex mu_;
  std::string error_ ABSL_GUARDED_BY(mu_) = "No space left on device";
  bool writes_ ABSL_GUARDED_BY(mu_) = true;
  std::string path_filter_ ABSL_GUARDED_BY(mu_);
  std::string rename_filter_ ABSL_GUARDED_BY(mu_);
  std::string hold_filter_ ABSL_GUARDED_BY(mu_);
  bool held_ ABSL_GUARDED_BY(mu_) = false;
  bool released_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace agentcom::testing

#endif  // AGENTCOM_TESTS_SUPPORT_FAULTY_ENV_H_
