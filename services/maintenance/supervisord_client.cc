#include "services/maintenance/supervisord_client.h"

#include <curl/curl.h>
#include <tinyxml2.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace agentcom::maintenance {

namespace {

// supervisord's stopwaitsecs (30 s) before it kills the process, with room.
constexpr absl::Duration kStopWait = absl::Seconds(60);

// supervisord's fault codes (supervisor/xmlrpc.py).
constexpr int kBadName = 10;
constexpr int kAbnormalTermination = 40;
constexpr int kSpawnError = 50;
constexpr int kAlreadyStarted = 60;
constexpr int kNotRunning = 70;

std::string Escape(const std::string& s) {
  return absl::StrReplaceAll(s, {{"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"}});
}

absl::StatusOr<XmlRpcValue> ParseValue(const tinyxml2::XMLElement* value) {
  XmlRpcValue out;
  const tinyxml2::XMLElement* typed = value->FirstChildElement();
  if (typed == nullptr) {  // <value>text</value> is a string
    out.scalar = value->GetText() ? value->GetText() : "";
    return out;
  }
  const std::string type = typed->Name();
  if (type == "struct") {
    out.kind = XmlRpcValue::Kind::kStruct;
    for (auto* m = typed->FirstChildElement("member"); m; m = m->NextSiblingElement("member")) {
      auto* name = m->FirstChildElement("name");
      auto* v = m->FirstChildElement("value");
      if (!name || !v) return absl::DataLossError("XML-RPC struct member without name or value");
      auto parsed = ParseValue(v);
      if (!parsed.ok()) return parsed.status();
      out.members[name->GetText() ? name->GetText() : ""] = *std::move(parsed);
    }
    return out;
  }
  if (type == "array") {
    out.kind = XmlRpcValue::Kind::kArray;
    auto* data = typed->FirstChildElement("data");
    for (auto* v = data ? data->FirstChildElement("value") : nullptr; v;
         v = v->NextSiblingElement("value")) {
      auto parsed = ParseValue(v);
      if (!parsed.ok()) return parsed.status();
      out.items.push_back(*std::move(parsed));
    }
    return out;
  }
  out.scalar = typed->GetText() ? typed->GetText() : "";
  return out;
}

size_t Collect(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

}  // namespace

const char* ProcessStateName(ProcessState state) {
  switch (state) {
    case ProcessState::kStopped:
      return "STOPPED";
    case ProcessState::kStarting:
      return "STARTING";
    case ProcessState::kRunning:
      return "RUNNING";
    case ProcessState::kBackoff:
      return "BACKOFF";
    case ProcessState::kStopping:
      return "STOPPING";
    case ProcessState::kExited:
      return "EXITED";
    case ProcessState::kFatal:
      return "FATAL";
    case ProcessState::kUnknown:
      return "UNKNOWN";
  }
  return "UNKNOWN";
}

std::string BuildXmlRpcCall(const std::string& method, const std::vector<std::string>& strings,
                            const std::vector<bool>& booleans) {
  std::string xml = absl::StrCat("<?xml version=\"1.0\"?><methodCall><methodName>", Escape(method),
                                 "</methodName><params>");
  for (const auto& s : strings) {
    absl::StrAppend(&xml, "<param><value><string>", Escape(s), "</string></value></param>");
  }
  for (bool b : booleans) {
    absl::StrAppend(&xml, "<param><value><boolean>", b ? 1 : 0, "</boolean></value></param>");
  }
  absl::StrAppend(&xml, "</params></methodCall>");
  return xml;
}

absl::StatusOr<XmlRpcValue> ParseXmlRpcResponse(const std::string& xml, int* fault_code) {
  tinyxml2::XMLDocument doc;
  if (doc.Parse(xml.data(), xml.size()) != tinyxml2::XML_SUCCESS) {
    return absl::DataLossError(absl::StrCat("supervisord sent malformed XML: ", doc.ErrorStr()));
  }
  auto* response = doc.FirstChildElement("methodResponse");
  if (!response) return absl::DataLossError("supervisord sent no methodResponse");
  if (auto* fault = response->FirstChildElement("fault")) {
    auto* v = fault->FirstChildElement("value");
    if (!v) return absl::DataLossError("XML-RPC fault without a value");
    auto parsed = ParseValue(v);
    if (!parsed.ok()) return parsed.status();
    int code = 0;
    auto it = parsed->members.find("faultCode");
    if (it != parsed->members.end()) code = std::atoi(it->second.scalar.c_str());
    if (fault_code) *fault_code = code;
    std::string text = parsed->members.count("faultString") ? parsed->members["faultString"].scalar
                                                            : "unknown fault";
    return absl::FailedPreconditionError(absl::StrCat(text, " (code ", code, ")"));
  }
  auto* params = response->FirstChildElement("params");
  auto* param = params ? params->FirstChildElement("param") : nullptr;
  auto* value = param ? param->FirstChildElement("value") : nullptr;
  if (!value) return absl::DataLossError("XML-RPC response without a value");
  return ParseValue(value);
}

SupervisordClient::SupervisordClient(std::string address, std::string username,
                                     std::string password, Clock* clock, absl::Duration timeout)
    : url_(absl::StrCat("http://", address, "/RPC2")),
      userpwd_(absl::StrCat(username, ":", password)),
      clock_(clock),
      timeout_(timeout) {}

absl::StatusOr<XmlRpcValue> SupervisordClient::Call(const std::string& body, int* fault_code) {
  CURL* curl = curl_easy_init();
  if (!curl) return absl::InternalError("cannot initialise libcurl");
  std::string response;
  struct curl_slist* headers = curl_slist_append(nullptr, "Content-Type: text/xml");
  curl_easy_setopt(curl, CURLOPT_URL, url_.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
  curl_easy_setopt(curl, CURLOPT_USERPWD, userpwd_.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(timeout_)));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response);
  CURLcode rc = curl_easy_perform(curl);
  long http = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &http);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    return absl::DeadlineExceededError(absl::StrCat("supervisord at ", url_, " timed out"));
  }
  if (rc != CURLE_OK) {
    return absl::UnavailableError(
        absl::StrCat("supervisord at ", url_, " is unreachable: ", curl_easy_strerror(rc)));
  }
  if (http == 401) {
    return absl::PermissionDeniedError("supervisord refused the username or password");
  }
  if (http != 200) {
    return absl::UnavailableError(absl::StrCat("supervisord answered HTTP ", http));
  }
  return ParseXmlRpcResponse(response, fault_code);
}

absl::Status SupervisordClient::Stop(const std::string& name) {
  int fault = 0;
  // wait=false and polling: supervisord answers a waiting stopProcess only
  // on a later turn of its one-second main loop, while getProcessInfo sees
  // the exit as soon as the child is reaped.
  auto r = Call(BuildXmlRpcCall("supervisor.stopProcess", {name}, {false}), &fault);
  if (fault == kNotRunning) return absl::OkStatus();
  if (fault == kBadName)
    return absl::NotFoundError(absl::StrCat("supervisord has no program ", name));
  if (!r.ok()) return r.status();
  const absl::Time deadline = clock_->Now() + kStopWait;
  while (true) {
    auto state = GetState(name);
    if (!state.ok()) return state.status();
    if (*state == ProcessState::kStopped || *state == ProcessState::kExited ||
        *state == ProcessState::kFatal) {
      return absl::OkStatus();
    }
    if (clock_->Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(name, " is still ", ProcessStateName(*state),
                                                      " ", absl::FormatDuration(kStopWait),
                                                      " after supervisord was asked to stop it"));
    }
    clock_->SleepFor(absl::Milliseconds(20));
  }
}

absl::Status SupervisordClient::Start(const std::string& name) {
  int fault = 0;
  // wait=false: supervisord answers once the process is spawned instead of
  // after `startsecs`; the caller watches health and GetState (BACKOFF,
  // FATAL) itself, which is both faster and a stronger check.
  auto r = Call(BuildXmlRpcCall("supervisor.startProcess", {name}, {false}), &fault);
  if (r.ok() || fault == kAlreadyStarted) return absl::OkStatus();
  if (fault == kBadName)
    return absl::NotFoundError(absl::StrCat("supervisord has no program ", name));
  if (fault == kSpawnError || fault == kAbnormalTermination) {
    auto state = GetState(name);
    return absl::FailedPreconditionError(
        absl::StrCat("supervisord could not start ", name, ": ", r.status().message(), "; state ",
                     state.ok() ? ProcessStateName(*state) : "unknown"));
  }
  return r.status();
}

absl::StatusOr<ProcessState> SupervisordClient::GetState(const std::string& name) {
  int fault = 0;
  auto r = Call(BuildXmlRpcCall("supervisor.getProcessInfo", {name}, {}), &fault);
  if (!r.ok()) {
    if (fault == kBadName)
      return absl::NotFoundError(absl::StrCat("supervisord has no program ", name));
    return r.status();
  }
  auto it = r->members.find("statename");
  if (it == r->members.end()) return absl::DataLossError("getProcessInfo without statename");
  const std::string& s = it->second.scalar;
  if (s == "STOPPED") return ProcessState::kStopped;
  if (s == "STARTING") return ProcessState::kStarting;
  if (s == "RUNNING") return ProcessState::kRunning;
  if (s == "BACKOFF") return ProcessState::kBackoff;
  if (s == "STOPPING") return ProcessState::kStopping;
  if (s == "EXITED") return ProcessState::kExited;
  if (s == "FATAL") return ProcessState::kFatal;
  return ProcessState::kUnknown;
}

}  // namespace agentcom::maintenance
