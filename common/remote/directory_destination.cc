#include "common/remote/directory_destination.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/digest/digest.h"
#include "common/files/files.h"
#include "leveldb/env.h"

namespace agentcom::remote {
namespace {

namespace fs = std::filesystem;

// Names that are never keys ('~' is not allowed in one).
constexpr char kSidecarSuffix[] = ".sha256~";
constexpr char kTempSuffix[] = ".tmp~";

std::string Sha256Of(absl::string_view data) {
  digest::Sha256 sha;
  sha.Update(data);
  return sha.HexDigest();
}

// Writes `data` to `path` (replacing it) and fsyncs it.
absl::Status WriteSynced(const std::string& path, absl::string_view data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return absl::UnavailableError(absl::StrCat(path, ": ", strerror(errno)));
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n <= 0) {
      int err = errno;
      ::close(fd);
      return err == ENOSPC ? absl::ResourceExhaustedError(absl::StrCat(path, ": disk full"))
                           : absl::UnavailableError(absl::StrCat(path, ": ", strerror(err)));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced) return absl::UnavailableError(absl::StrCat(path, ": fsync failed"));
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadWhole(const std::string& path) {
  std::error_code ec;
  const uintmax_t size = fs::file_size(path, ec);
  if (ec) {
    return ec == std::errc::no_such_file_or_directory
               ? absl::NotFoundError(absl::StrCat(path, " does not exist"))
               : absl::UnavailableError(absl::StrCat(path, ": ", ec.message()));
  }
  std::string data;
  if (absl::Status s = internal::ReadRange(path, 0, size, &data); !s.ok()) return s;
  return data;
}

}  // namespace

DirectoryDestination::DirectoryDestination(std::string root) : root_(std::move(root)) {}

std::string DirectoryDestination::Describe() const { return absl::StrCat("directory ", root_); }

absl::Status DirectoryDestination::Prepare() {
  std::error_code ec;
  if (!fs::is_directory(root_, ec)) {
    return absl::UnavailableError(absl::StrCat(Describe(), " does not exist (not mounted?)"));
  }
  return absl::OkStatus();
}

absl::Status DirectoryDestination::Upload(const std::string& path, uint64_t offset, uint64_t length,
                                          const std::string& key) {
  if (!IsValidKey(key)) return absl::InvalidArgumentError(absl::StrCat("bad key '", key, "'"));
  if (absl::Status s = Prepare(); !s.ok()) return s;
  std::string data;
  if (absl::Status s = internal::ReadRange(path, offset, length, &data); !s.ok()) return s;
  const std::string sha = Sha256Of(data);
  const std::string dest = absl::StrCat(root_, "/", key);
  if (absl::Status s = files::CreateDirs(leveldb::Env::Default(), files::Parent(dest)); !s.ok())
    return s;
  const std::string temp = absl::StrCat(dest, kTempSuffix);
  if (absl::Status s = WriteSynced(temp, data); !s.ok()) return s;
  absl::StatusOr<std::string> back = ReadWhole(temp);
  if (!back.ok()) return back.status();
  if (Sha256Of(*back) != sha) {
    ::unlink(temp.c_str());
    return absl::DataLossError(absl::StrCat("upload of ", key, " to ", Describe(),
                                            ": the copy does not read back as written"));
  }
  // The checksum first: an object is never without one that matches.
  if (absl::Status s = WriteSynced(absl::StrCat(dest, kSidecarSuffix), sha); !s.ok()) return s;
  if (::rename(temp.c_str(), dest.c_str()) != 0) {
    return absl::UnavailableError(absl::StrCat(dest, ": ", strerror(errno)));
  }
  return files::SyncDirectory(files::Parent(dest));
}

absl::Status DirectoryDestination::Download(const std::string& key, const std::string& path) {
  if (!IsValidKey(key)) return absl::InvalidArgumentError(absl::StrCat("bad key '", key, "'"));
  const std::string source = absl::StrCat(root_, "/", key);
  absl::StatusOr<std::string> data = ReadWhole(source);
  if (!data.ok()) return data.status();
  absl::StatusOr<std::string> want = ReadWhole(absl::StrCat(source, kSidecarSuffix));
  if (want.ok() && *want != Sha256Of(*data)) {
    return absl::DataLossError(absl::StrCat("download of ", key, " from ", Describe(),
                                            ": SHA-256 does not match the one uploaded"));
  }
  if (absl::Status s = WriteSynced(path, *data); !s.ok()) {
    ::unlink(path.c_str());
    return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<RemoteObject>> DirectoryDestination::List(const std::string& prefix) {
  std::vector<RemoteObject> out;
  std::error_code ec;
  if (!fs::exists(root_, ec)) {
    return absl::UnavailableError(absl::StrCat(Describe(), " does not exist (not mounted?)"));
  }
  // Walk only below the prefix's directory part.
  const size_t slash = prefix.rfind('/');
  const std::string start =
      slash == std::string::npos ? root_ : absl::StrCat(root_, "/", prefix.substr(0, slash));
  if (!fs::exists(start, ec)) return out;
  for (auto it = fs::recursive_directory_iterator(start, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    std::string key = fs::relative(it->path(), root_, ec).string();
    if (absl::EndsWith(key, "~") || !absl::StartsWith(key, prefix)) continue;
    out.push_back({key, static_cast<uint64_t>(it->file_size(ec))});
  }
  if (ec) return absl::UnavailableError(absl::StrCat(Describe(), ": ", ec.message()));
  std::sort(out.begin(), out.end(),
            [](const RemoteObject& a, const RemoteObject& b) { return a.key < b.key; });
  return out;
}

absl::Status DirectoryDestination::Delete(const std::string& key) {
  if (!IsValidKey(key)) return absl::InvalidArgumentError(absl::StrCat("bad key '", key, "'"));
  const std::string path = absl::StrCat(root_, "/", key);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return absl::UnavailableError(absl::StrCat(path, ": ", strerror(errno)));
  }
  ::unlink(absl::StrCat(path, kSidecarSuffix).c_str());
  return files::SyncDirectory(files::Parent(path));
}

}  // namespace agentcom::remote
