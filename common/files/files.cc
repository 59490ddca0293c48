#include "common/files/files.h"

#include <fcntl.h>
#include <leveldb/env.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace agentcom::files {
namespace {

// fsync of `path` opened with `flags`; `kind` names it in errors.
absl::Status SyncPath(const std::string& path, int flags, absl::string_view kind) {
  const int fd = open(path.c_str(), flags | O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat("cannot open ", kind, path, ": ", strerror(errno)));
  }
  const int rc = fsync(fd);
  const int err = errno;
  close(fd);
  if (rc != 0) {
    return absl::UnavailableError(absl::StrCat("cannot fsync ", kind, path, ": ", strerror(err)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status FromLevelDb(const leveldb::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  const std::string text = s.ToString();
  if (s.IsCorruption()) return absl::DataLossError(absl::StrCat(what, ": ", text));
  if (s.IsNotFound()) return absl::NotFoundError(absl::StrCat(what, ": ", text));
  if (absl::StrContains(text, "No space left")) {
    return absl::ResourceExhaustedError(absl::StrCat(what, ": ", text));
  }
  return absl::UnavailableError(absl::StrCat(what, ": ", text));
}

std::string Parent(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string Basename(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

absl::Status SyncFile(const std::string& path) { return SyncPath(path, 0, ""); }

void StartWriteback(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  (void)sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
  close(fd);
}

absl::Status SyncDirectory(const std::string& dir) {
  return SyncPath(dir, O_DIRECTORY, "directory ");
}

absl::Status WriteFileAtomically(leveldb::Env* env, const std::string& path,
                                 absl::string_view content) {
  const std::string dir = Parent(path);
  (void)env->CreateDir(dir);  // usually exists; a real problem shows below
  const std::string tmp = absl::StrCat(path, ".tmp");
  leveldb::WritableFile* raw = nullptr;
  if (auto s = env->NewWritableFile(tmp, &raw); !s.ok()) {
    return FromLevelDb(s, absl::StrCat("cannot create ", tmp));
  }
  std::unique_ptr<leveldb::WritableFile> file(raw);
  leveldb::Status s = file->Append(leveldb::Slice(content.data(), content.size()));
  if (s.ok()) s = file->Sync();
  if (s.ok()) s = file->Close();
  file.reset();
  if (!s.ok()) {
    (void)env->RemoveFile(tmp);
    return FromLevelDb(s, absl::StrCat("cannot write ", tmp));
  }
  if (s = env->RenameFile(tmp, path); !s.ok()) {
    (void)env->RemoveFile(tmp);
    return FromLevelDb(s, absl::StrCat("cannot rename ", tmp, " to ", path));
  }
  return SyncDirectory(dir);
}

absl::StatusOr<std::string> ReadFile(leveldb::Env* env, const std::string& path) {
  std::string out;
  if (auto s = leveldb::ReadFileToString(env, path, &out); !s.ok()) {
    return FromLevelDb(s, absl::StrCat("cannot read ", path));
  }
  return out;
}

absl::Status RemoveFileDurably(leveldb::Env* env, const std::string& path) {
  if (!env->FileExists(path)) return absl::OkStatus();
  if (auto s = env->RemoveFile(path); !s.ok() && env->FileExists(path)) {
    return FromLevelDb(s, absl::StrCat("cannot remove ", path));
  }
  return SyncDirectory(Parent(path));
}

absl::Status CreateDirs(leveldb::Env* env, const std::string& dir) {
  if (dir.empty() || env->FileExists(dir)) return absl::OkStatus();
  const std::string parent = Parent(dir);
  if (parent != dir) {
    if (auto s = CreateDirs(env, parent); !s.ok()) return s;
  }
  if (auto s = env->CreateDir(dir); !s.ok() && !env->FileExists(dir)) {
    return FromLevelDb(s, absl::StrCat("cannot create ", dir));
  }
  return absl::OkStatus();
}

absl::Status RenameDurably(leveldb::Env* env, const std::string& from, const std::string& to) {
  if (auto s = env->RenameFile(from, to); !s.ok()) {
    return FromLevelDb(s, absl::StrCat("cannot move ", from, " to ", to));
  }
  if (auto s = SyncDirectory(Parent(to)); !s.ok()) return s;
  return Parent(from) == Parent(to) ? absl::OkStatus() : SyncDirectory(Parent(from));
}

absl::Status RemoveTree(leveldb::Env* env, const std::string& path) {
  if (!env->FileExists(path)) return absl::OkStatus();
  std::vector<std::string> children;
  // A file: GetChildren fails (ENOTDIR) and the file is removed.
  if (env->GetChildren(path, &children).ok()) {
    for (const std::string& child : children) {
      if (child == "." || child == "..") continue;
      if (auto s = RemoveTree(env, absl::StrCat(path, "/", child)); !s.ok()) return s;
    }
    if (auto s = env->RemoveDir(path); !s.ok()) {
      return FromLevelDb(s, absl::StrCat("cannot remove ", path));
    }
    return absl::OkStatus();
  }
  if (auto s = env->RemoveFile(path); !s.ok()) {
    return FromLevelDb(s, absl::StrCat("cannot remove ", path));
  }
  return absl::OkStatus();
}

absl::StatusOr<absl::Duration> UnmodifiedFor(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::file_time_type newest = fs::last_write_time(path, ec);
  if (ec) return absl::NotFoundError(absl::StrCat(path, ": ", ec.message()));
  if (fs::is_directory(path, ec)) {
    for (const auto& entry : fs::directory_iterator(path, ec)) {
      newest = std::max(newest, fs::last_write_time(entry.path(), ec));
    }
  }
  const auto age = fs::file_time_type::clock::now() - newest;
  return absl::FromChrono(std::chrono::duration_cast<std::chrono::nanoseconds>(age));
}

}  // namespace agentcom::files
