#include "common/auth/tokens.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/files/files.h"
#include "common/ids/random_id.h"

namespace agentcom::auth {
namespace {

constexpr size_t kTokenBytes = 32;

absl::Status WriteNewTokenFile(const std::string& path) {
  std::error_code ec;
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::filesystem::create_directories(parent, ec);
    if (ec) {
      return absl::PermissionDeniedError(
          absl::StrCat("cannot create ", parent.string(), ": ", ec.message()));
    }
  }
  absl::StatusOr<std::string> token = ids::RandomHex(kTokenBytes);
  if (!token.ok()) return token.status();
  // Written beside the target and linked into place: link() fails when the
  // name exists, so a concurrent starter never sees a half-written file and
  // the first writer wins.
  std::string tmp = absl::StrCat(path, ".tmp.XXXXXX");
  int fd = mkstemp(tmp.data());  // unique per caller, mode 0600
  if (fd < 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create token file ", path, ": ", strerror(errno)));
  }
  std::string content = absl::StrCat(*token, "\n");
  bool ok = write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()) &&
            fsync(fd) == 0;
  close(fd);
  if (!ok) {
    unlink(tmp.c_str());
    return absl::ResourceExhaustedError(absl::StrCat("cannot write token file ", tmp));
  }
  int rc = link(tmp.c_str(), path.c_str());
  int link_errno = errno;
  unlink(tmp.c_str());
  if (rc != 0 && link_errno != EEXIST) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create token file ", path, ": ", strerror(link_errno)));
  }
  return files::SyncDirectory(parent.empty() ? "." : parent.string());
}

}  // namespace

absl::StatusOr<std::string> ReadToken(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    return absl::NotFoundError(absl::StrCat("token file ", path, " does not exist"));
  }
  if ((st.st_mode & 077) != 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("token file ", path, " is accessible by group or others (mode ",
                     absl::StrFormat("%04o", st.st_mode & 0777), "); run chmod 600 ", path));
  }
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::string token(absl::StripAsciiWhitespace(text.str()));
  if (token.size() < 16 || token.find_first_of(" \t\r\n") != std::string::npos) {
    return absl::FailedPreconditionError(
        absl::StrCat("token file ", path, " must hold one token of at least 16 characters"));
  }
  return token;
}

absl::StatusOr<std::string> LoadOrCreateToken(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    if (auto s = WriteNewTokenFile(path); !s.ok()) return s;
  }
  return ReadToken(path);
}

}  // namespace agentcom::auth
