#include "common/remote/destination.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "common/remote/directory_destination.h"
#include "common/remote/s3_destination.h"

namespace agentcom::remote {
namespace {

// "name = value" lines; '#' starts a comment.
absl::StatusOr<S3Options> ReadCredentials(const std::string& path, S3Options options) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("remote backup credentials file ", path, ": ", strerror(errno)));
  }
  if ((st.st_mode & 077) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("remote backup credentials file ", path,
                     " is readable by group or others; chmod 600 it (it holds a secret)"));
  }
  std::string text;
  if (absl::Status s = internal::ReadRange(path, 0, static_cast<uint64_t>(st.st_size), &text);
      !s.ok()) {
    return s;
  }
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(line, absl::MaxSplits('=', 1));
    absl::string_view name = absl::StripAsciiWhitespace(kv.first);
    std::string value(absl::StripAsciiWhitespace(kv.second));
    if (name == "access_key_id") options.access_key_id = value;
    if (name == "secret_access_key") options.secret_access_key = value;
  }
  if (options.access_key_id.empty() || options.secret_access_key.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("remote backup credentials file ", path,
                     " needs access_key_id = ... and secret_access_key = ... lines"));
  }
  return options;
}

}  // namespace

bool IsValidKey(const std::string& key) {
  if (key.empty() || key.size() > 900) return false;
  for (absl::string_view part : absl::StrSplit(key, '/')) {
    if (part.empty() || part == "." || part == "..") return false;
    for (char c : part) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
        return false;
      }
    }
  }
  return true;
}

absl::StatusOr<std::unique_ptr<Destination>> OpenDestination(
    const topology::v1::RemoteBackup& config) {
  if (config.kind() == "directory") {
    return std::make_unique<DirectoryDestination>(config.directory());
  }
  if (config.kind() != "s3") {
    return absl::FailedPreconditionError(
        absl::StrCat("remote backup kind '", config.kind(), "' is not s3 or directory"));
  }
  S3Options options;
  options.endpoint = std::string(absl::StripSuffix(config.endpoint(), "/"));
  options.bucket = config.bucket();
  options.prefix = std::string(absl::StripSuffix(config.prefix(), "/"));
  if (!config.region().empty()) options.region = config.region();
  options.ca_file = config.ca_file();
  if (config.request_timeout_seconds() > 0) {
    options.timeout = absl::Seconds(config.request_timeout_seconds());
  }
  if (config.attempts() > 0) options.attempts = static_cast<int>(config.attempts());
  absl::StatusOr<S3Options> with_keys = ReadCredentials(config.credentials_file(), options);
  if (!with_keys.ok()) return with_keys.status();
  return std::make_unique<S3Destination>(*std::move(with_keys));
}

namespace internal {

absl::Status ReadRange(const std::string& path, uint64_t offset, uint64_t length,
                       std::string* out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return errno == ENOENT ? absl::NotFoundError(absl::StrCat(path, " does not exist"))
                           : absl::UnavailableError(absl::StrCat(path, ": ", strerror(errno)));
  }
  out->resize(length);
  uint64_t done = 0;
  while (done < length) {
    ssize_t n = ::pread(fd, out->data() + done, length - done, static_cast<off_t>(offset + done));
    if (n <= 0) {
      int err = errno;
      ::close(fd);
      return n == 0 ? absl::DataLossError(
                          absl::StrCat(path, " is shorter than ", offset + length, " bytes"))
                    : absl::UnavailableError(absl::StrCat(path, ": ", strerror(err)));
    }
    done += static_cast<uint64_t>(n);
  }
  ::close(fd);
  return absl::OkStatus();
}

}  // namespace internal
}  // namespace agentcom::remote
