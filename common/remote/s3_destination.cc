#include "common/remote/s3_destination.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <tinyxml2.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "common/digest/digest.h"

namespace agentcom::remote {
namespace {

constexpr char kEmptySha256[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr char kSha256Meta[] = "x-amz-meta-sha256";

// RFC 3986 unreserved characters stay; '/' too when `keep_slash`.
std::string UriEncode(absl::string_view s, bool keep_slash) {
  std::string out;
  for (unsigned char c : s) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
        (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppend(&out, "%",
                      absl::AsciiStrToUpper(absl::BytesToHexString(
                          absl::string_view(reinterpret_cast<char*>(&c), 1))));
    }
  }
  return out;
}

size_t CollectBody(char* data, size_t size, size_t n, void* out) {
  auto* sink = static_cast<std::function<bool(absl::string_view)>*>(out);
  return (*sink)(absl::string_view(data, size * n)) ? size * n : 0;
}

size_t CollectHeader(char* data, size_t size, size_t n, void* out) {
  auto* headers = static_cast<std::vector<std::pair<std::string, std::string>>*>(out);
  absl::string_view line(data, size * n);
  if (size_t colon = line.find(':'); colon != absl::string_view::npos) {
    headers->emplace_back(absl::AsciiStrToLower(line.substr(0, colon)),
                          std::string(absl::StripAsciiWhitespace(line.substr(colon + 1))));
  } else if (absl::StartsWith(line, "HTTP/")) {
    headers->clear();  // a new response (after 100 Continue)
  }
  return size * n;
}

// The text of <name> directly under `parent`, or "".
std::string Child(const tinyxml2::XMLElement* parent, const char* name) {
  const tinyxml2::XMLElement* e = parent ? parent->FirstChildElement(name) : nullptr;
  return e && e->GetText() ? e->GetText() : "";
}

}  // namespace

struct S3Destination::Request {
  std::string what;    // for errors: "upload of <key>"
  std::string method;  // GET, PUT, POST, DELETE, HEAD
  std::string path;    // "/bucket[/key]", encoded
  std::string query;   // canonical (sorted, encoded), without '?'
  std::vector<std::string> headers;
  const std::string* body = nullptr;
  std::string body_sha256 = kEmptySha256;
  // Receives the response body when set (else it is kept in Response).
  std::function<bool(absl::string_view)>* sink = nullptr;
};

std::string S3Destination::Response::Header(const std::string& name) const {
  for (const auto& [n, v] : headers) {
    if (n == name) return v;
  }
  return "";
}

S3Destination::S3Destination(S3Options options) : options_(std::move(options)) {
  static const bool initialized = [] {
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  }();
  (void)initialized;
}

std::string S3Destination::Describe() const {
  return absl::StrCat("s3://", options_.bucket, options_.prefix.empty() ? "" : "/", options_.prefix,
                      " at ", options_.endpoint);
}

std::string S3Destination::ObjectPath(const std::string& key) const {
  std::string full = options_.prefix.empty() ? key : absl::StrCat(options_.prefix, "/", key);
  return absl::StrCat("/", UriEncode(options_.bucket, false), "/", UriEncode(full, true));
}

absl::StatusOr<S3Destination::Response> S3Destination::SendOnce(const Request& request) const {
  CURL* curl = curl_easy_init();
  if (!curl) return absl::InternalError("cannot initialise libcurl");
  Response response;
  std::function<bool(absl::string_view)> keep = [&](absl::string_view data) {
    response.body.append(data.data(), data.size());
    return true;
  };
  // Error bodies are always kept; a sink receives only a 2xx body.
  std::function<bool(absl::string_view)> route = [&](absl::string_view data) {
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (request.sink && status >= 200 && status < 300) return (*request.sink)(data);
    return keep(data);
  };
  const std::string url = absl::StrCat(options_.endpoint, request.path,
                                       request.query.empty() ? "" : "?", request.query);
  const std::string sigv4 = absl::StrCat("aws:amz:", options_.region, ":s3");
  struct curl_slist* headers = nullptr;
  std::vector<std::string> lines = request.headers;
  lines.push_back(absl::StrCat("x-amz-content-sha256: ", request.body_sha256));
  for (const std::string& h : lines) headers = curl_slist_append(headers, h.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  if (request.method == "HEAD") curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  if (request.body) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body->data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body->size()));
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, sigv4.c_str());
  // Separately: an access key may contain ':' (Swift's "account:user").
  curl_easy_setopt(curl, CURLOPT_USERNAME, options_.access_key_id.c_str());
  curl_easy_setopt(curl, CURLOPT_PASSWORD, options_.secret_access_key.c_str());
  if (!options_.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, options_.ca_file.c_str());
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(options_.timeout)));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, CollectBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &route);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, CollectHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response.headers);
  CURLcode rc = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (rc == CURLE_WRITE_ERROR && request.sink) {
    return absl::UnavailableError(absl::StrCat(request.what, ": writing the local copy failed"));
  }
  if (rc != CURLE_OK) {
    return absl::UnavailableError(absl::StrCat(request.what, ": ", Describe(),
                                               " cannot be reached: ", curl_easy_strerror(rc)));
  }
  return response;
}

absl::StatusOr<S3Destination::Response> S3Destination::Send(const Request& request) const {
  absl::Duration wait = options_.backoff;
  absl::StatusOr<Response> response;
  for (int attempt = 1;; ++attempt) {
    response = SendOnce(request);
    const bool retry = !response.ok() ? absl::IsUnavailable(response.status())
                                      : response->status >= 500 || response->status == 429;
    // A download whose sink already took bytes cannot be simply resent:
    // the caller starts over.
    if (!retry || attempt >= options_.attempts || request.sink) return response;
    std::this_thread::sleep_for(absl::ToChronoNanoseconds(wait));
    wait *= 2;
  }
}

absl::Status S3Destination::ErrorFor(const std::string& what, const Response& response) const {
  tinyxml2::XMLDocument doc;
  std::string code, message;
  if (doc.Parse(response.body.data(), response.body.size()) == tinyxml2::XML_SUCCESS) {
    code = Child(doc.FirstChildElement("Error"), "Code");
    message = Child(doc.FirstChildElement("Error"), "Message");
  }
  const std::string text = absl::StrCat(what, ": ", Describe(), " answered HTTP ", response.status,
                                        code.empty() ? "" : absl::StrCat(" ", code),
                                        message.empty() ? "" : ": ", message);
  switch (response.status) {
    case 401:
    case 403:
      return absl::PermissionDeniedError(
          absl::StrCat(text, " (check the access key and secret in the credentials file)"));
    case 404:
      return absl::NotFoundError(text);
    case 400:
      return code == "BadDigest" || code == "InvalidDigest" ? absl::DataLossError(text)
                                                            : absl::InvalidArgumentError(text);
    default:
      return response.status >= 500 || response.status == 429 ? absl::UnavailableError(text)
                                                              : absl::FailedPreconditionError(text);
  }
}

absl::Status S3Destination::Prepare() {
  Request r;
  r.what = absl::StrCat("creating bucket ", options_.bucket);
  r.method = "PUT";
  r.path = absl::StrCat("/", UriEncode(options_.bucket, false));
  absl::StatusOr<Response> response = Send(r);
  if (!response.ok()) return response.status();
  if (response->status / 100 == 2 || absl::StrContains(response->body, "BucketAlreadyOwnedByYou")) {
    return absl::OkStatus();
  }
  return ErrorFor(r.what, *response);
}

absl::Status S3Destination::PutPart(const std::string& key, const std::string& query,
                                    const std::string& data, const std::string& sha256,
                                    std::string* etag) const {
  digest::Md5 md5;
  md5.Update(data);
  const std::string md5_raw = md5.RawDigest();
  Request r;
  r.what = absl::StrCat("upload of ", key);
  r.method = "PUT";
  r.path = ObjectPath(key);
  r.query = query;
  r.headers = {absl::StrCat("Content-MD5: ", absl::Base64Escape(md5_raw)),
               "Content-Type: application/octet-stream"};
  r.body = &data;
  r.body_sha256 = sha256;
  // A single PUT's body is the whole object: its SHA-256 is the object's.
  if (query.empty()) r.headers.push_back(absl::StrCat(kSha256Meta, ": ", sha256));
  absl::StatusOr<Response> response = Send(r);
  if (!response.ok()) return response.status();
  if (response->status == 404) {  // NOT_FOUND is for keys, not buckets
    return absl::FailedPreconditionError(
        absl::StrCat(r.what, ": ", Describe(), " answered 404: the bucket does not exist"));
  }
  if (response->status / 100 != 2) return ErrorFor(r.what, *response);
  *etag = std::string(absl::StripSuffix(absl::StripPrefix(response->Header("etag"), "\""), "\""));
  if (*etag != absl::BytesToHexString(md5_raw)) {
    return absl::DataLossError(absl::StrCat(r.what, ": ", Describe(), " stored MD5 ", *etag,
                                            ", the bytes sent have ",
                                            absl::BytesToHexString(md5_raw)));
  }
  return absl::OkStatus();
}

absl::Status S3Destination::Upload(const std::string& path, uint64_t offset, uint64_t length,
                                   const std::string& key) {
  if (!IsValidKey(key)) return absl::InvalidArgumentError(absl::StrCat("bad key '", key, "'"));
  if (length > options_.part_size) {
    // The whole object's SHA-256 goes with the first request: one read
    // ahead of the upload.
    digest::Sha256 sha;
    for (uint64_t at = 0; at < length; at += options_.part_size) {
      std::string chunk;
      if (absl::Status s = internal::ReadRange(path, offset + at,
                                               std::min(options_.part_size, length - at), &chunk);
          !s.ok()) {
        return s;
      }
      sha.Update(chunk);
    }
    return UploadMultipart(path, offset, length, key, sha.HexDigest());
  }
  std::string data;
  if (absl::Status s = internal::ReadRange(path, offset, length, &data); !s.ok()) return s;
  digest::Sha256 sha;
  sha.Update(data);
  std::string etag;
  return PutPart(key, "", data, sha.HexDigest(), &etag);
}

absl::Status S3Destination::UploadMultipart(const std::string& path, uint64_t offset,
                                            uint64_t length, const std::string& key,
                                            const std::string& sha256) {
  const std::string what = absl::StrCat("multipart upload of ", key);
  Request start;
  start.what = what;
  start.method = "POST";
  start.path = ObjectPath(key);
  start.query = "uploads=";
  start.headers = {absl::StrCat(kSha256Meta, ": ", sha256),
                   "Content-Type: application/octet-stream"};
  absl::StatusOr<Response> started = Send(start);
  if (!started.ok()) return started.status();
  if (started->status / 100 != 2) return ErrorFor(what, *started);
  tinyxml2::XMLDocument doc;
  doc.Parse(started->body.data(), started->body.size());
  const std::string upload_id =
      Child(doc.FirstChildElement("InitiateMultipartUploadResult"), "UploadId");
  if (upload_id.empty()) {
    return absl::UnavailableError(absl::StrCat(what, ": ", Describe(), " gave no upload id"));
  }
  const std::string id_query = absl::StrCat("uploadId=", UriEncode(upload_id, false));
  auto abort = [&](absl::Status s) {
    Request r;
    r.what = what;
    r.method = "DELETE";
    r.path = ObjectPath(key);
    r.query = id_query;
    (void)Send(r);  // the store expires abandoned uploads too
    return s;
  };
  std::string complete = "<CompleteMultipartUpload>";
  int part = 1;
  for (uint64_t at = 0; at < length; at += options_.part_size, ++part) {
    std::string data;
    if (absl::Status s = internal::ReadRange(path, offset + at,
                                             std::min(options_.part_size, length - at), &data);
        !s.ok()) {
      return abort(s);
    }
    digest::Sha256 sha;
    sha.Update(data);
    std::string etag;
    // Query parameters in canonical (sorted) order, as SigV4 signs them.
    if (absl::Status s = PutPart(key, absl::StrCat("partNumber=", part, "&", id_query), data,
                                 sha.HexDigest(), &etag);
        !s.ok()) {
      return abort(s);
    }
    absl::StrAppend(&complete, "<Part><PartNumber>", part, "</PartNumber><ETag>\"", etag,
                    "\"</ETag></Part>");
  }
  complete += "</CompleteMultipartUpload>";
  digest::Sha256 body_sha;
  body_sha.Update(complete);
  Request finish;
  finish.what = what;
  finish.method = "POST";
  finish.path = ObjectPath(key);
  finish.query = id_query;
  finish.headers = {"Content-Type: application/xml"};
  finish.body = &complete;
  finish.body_sha256 = body_sha.HexDigest();
  absl::StatusOr<Response> finished = Send(finish);
  if (!finished.ok()) return abort(finished.status());
  // A completion can fail inside a 200 answer (S3 streams an <Error>).
  if (finished->status / 100 != 2 || absl::StrContains(finished->body, "<Error>")) {
    return abort(ErrorFor(what, *finished));
  }
  return absl::OkStatus();
}

absl::Status S3Destination::Download(const std::string& key, const std::string& path) {
  if (!IsValidKey(key)) return absl::InvalidArgumentError(absl::StrCat("bad key '", key, "'"));
  absl::Status last;
  for (int attempt = 1; attempt <= options_.attempts; ++attempt) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return absl::UnavailableError(absl::StrCat(path, ": ", strerror(errno)));
    digest::Sha256 sha;
    std::function<bool(absl::string_view)> sink = [&](absl::string_view data) {
      sha.Update(data);
      while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n <= 0) return false;
        data.remove_prefix(static_cast<size_t>(n));
      }
      return true;
    };
    Request r;
    r.what = absl::StrCat("download of ", key);
    r.method = "GET";
    r.path = ObjectPath(key);
    r.sink = &sink;
    absl::StatusOr<Response> response = Send(r);
    const bool synced = ::fsync(fd) == 0;
    ::close(fd);
    if (!response.ok()) {
      last = response.status();
    } else if (response->status / 100 != 2) {
      last = ErrorFor(r.what, *response);
      if (!absl::IsUnavailable(last)) break;
    } else if (const std::string want = response->Header(kSha256Meta);
               !want.empty() && want != sha.HexDigest()) {
      // Altered or truncated at rest: retrying reads the same bytes.
      last = absl::DataLossError(absl::StrCat(r.what, " from ", Describe(), ": SHA-256 ",
                                              sha.HexDigest(), " instead of ", want));
      break;
    } else if (!synced) {
      last = absl::UnavailableError(absl::StrCat(path, ": fsync failed"));
      break;
    } else {
      return absl::OkStatus();
    }
    if (attempt < options_.attempts) {
      std::this_thread::sleep_for(absl::ToChronoNanoseconds(options_.backoff * (1 << attempt)));
    }
  }
  ::unlink(path.c_str());
  return last;
}

absl::StatusOr<std::vector<RemoteObject>> S3Destination::List(const std::string& prefix) {
  const std::string full =
      options_.prefix.empty() ? prefix : absl::StrCat(options_.prefix, "/", prefix);
  const size_t strip = options_.prefix.empty() ? 0 : options_.prefix.size() + 1;
  std::vector<RemoteObject> out;
  std::string token;
  while (true) {
    // Query parameters in canonical (sorted) order, as SigV4 signs them.
    std::string query;
    if (!token.empty()) query = absl::StrCat("continuation-token=", UriEncode(token, false), "&");
    absl::StrAppend(&query, "list-type=2&max-keys=", options_.list_page_size,
                    "&prefix=", UriEncode(full, false));
    Request r;
    r.what = absl::StrCat("listing of ", prefix);
    r.method = "GET";
    r.path = absl::StrCat("/", UriEncode(options_.bucket, false));
    r.query = query;
    absl::StatusOr<Response> response = Send(r);
    if (!response.ok()) return response.status();
    if (response->status / 100 != 2) return ErrorFor(r.what, *response);
    tinyxml2::XMLDocument doc;
    if (doc.Parse(response->body.data(), response->body.size()) != tinyxml2::XML_SUCCESS) {
      return absl::UnavailableError(
          absl::StrCat(r.what, ": ", Describe(), " answered a listing that does not parse"));
    }
    const tinyxml2::XMLElement* result = doc.FirstChildElement("ListBucketResult");
    for (const tinyxml2::XMLElement* c = result ? result->FirstChildElement("Contents") : nullptr;
         c != nullptr; c = c->NextSiblingElement("Contents")) {
      std::string key = Child(c, "Key");
      uint64_t size = 0;
      if (key.size() < strip || !absl::SimpleAtoi(Child(c, "Size"), &size)) continue;
      out.push_back({key.substr(strip), size});
    }
    token = Child(result, "NextContinuationToken");
    if (Child(result, "IsTruncated") != "true" || token.empty()) break;
  }
  std::sort(out.begin(), out.end(),
            [](const RemoteObject& a, const RemoteObject& b) { return a.key < b.key; });
  return out;
}

absl::Status S3Destination::Delete(const std::string& key) {
  if (!IsValidKey(key)) return absl::InvalidArgumentError(absl::StrCat("bad key '", key, "'"));
  Request r;
  r.what = absl::StrCat("deletion of ", key);
  r.method = "DELETE";
  r.path = ObjectPath(key);
  absl::StatusOr<Response> response = Send(r);
  if (!response.ok()) return response.status();
  if (response->status / 100 == 2 || response->status == 404) return absl::OkStatus();
  return ErrorFor(r.what, *response);
}

}  // namespace agentcom::remote
