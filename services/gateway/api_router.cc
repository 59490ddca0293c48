#include "services/gateway/api_router.h"

#include <google/protobuf/util/json_util.h>
#include <grpcpp/client_context.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/status/grpc_status.h"

namespace agentcom::gateway {
namespace {

namespace mnt = ::agentcom::maintenance::v1;
using google::protobuf::Message;

// Long enough for a restore or a compaction of every table.
constexpr absl::Duration kLongCall = absl::Hours(1);
constexpr absl::Duration kShortCall = absl::Seconds(30);

std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (static_cast<unsigned char>(c) < 0x20) continue;
    out.push_back(c);
  }
  return out;
}

HttpResponse ToJson(const Message& m) {
  HttpResponse r;
  google::protobuf::util::JsonPrintOptions print;
  print.preserve_proto_field_names = true;
  print.always_print_primitive_fields = true;
  (void)google::protobuf::util::MessageToJsonString(m, &r.body, print);
  return r;
}

// Parses an optional JSON body into `request`; empty means defaults.
bool ParseBody(const std::string& body, Message* request, HttpResponse* error) {
  if (body.empty()) return true;
  auto s = google::protobuf::util::JsonStringToMessage(body, request);
  if (s.ok()) return true;
  *error = JsonError(400, "INVALID_ARGUMENT",
                     absl::StrCat("request body is not a valid ", request->GetTypeName(), ": ",
                                  s.message().as_string()));
  return false;
}

template <typename Request, typename Response>
HttpResponse Invoke(mnt::Maintenance::StubInterface* stub,
                    grpc::Status (mnt::Maintenance::StubInterface::*method)(grpc::ClientContext*,
                                                                            const Request&,
                                                                            Response*),
                    const std::string& authorization, const Request& request,
                    absl::Duration timeout) {
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  if (!authorization.empty()) ctx.AddMetadata("authorization", authorization);
  Response response;
  grpc::Status s = (stub->*method)(&ctx, request, &response);
  if (!s.ok()) {
    return JsonError(HttpStatusFor(s.error_code()), StatusCodeName(s.error_code()),
                     s.error_message());
  }
  return ToJson(response);
}

}  // namespace

int HttpStatusFor(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return 200;
    case grpc::StatusCode::INVALID_ARGUMENT:
      return 400;
    case grpc::StatusCode::OUT_OF_RANGE:
      return 400;
    case grpc::StatusCode::UNAUTHENTICATED:
      return 401;
    case grpc::StatusCode::PERMISSION_DENIED:
      return 403;
    case grpc::StatusCode::NOT_FOUND:
      return 404;
    case grpc::StatusCode::ALREADY_EXISTS:
      return 409;
    case grpc::StatusCode::ABORTED:
      return 409;
    case grpc::StatusCode::FAILED_PRECONDITION:
      return 412;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return 429;
    case grpc::StatusCode::CANCELLED:
      return 499;
    case grpc::StatusCode::UNIMPLEMENTED:
      return 501;
    case grpc::StatusCode::UNAVAILABLE:
      return 503;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return 504;
    default:
      return 500;
  }
}

HttpResponse JsonError(int status, const std::string& code, const std::string& message) {
  HttpResponse r;
  r.status = status;
  r.body =
      absl::StrCat("{\"error\":{\"code\":\"", code, "\",\"message\":\"", Escape(message), "\"}}");
  return r;
}

ApiRouter::ApiRouter(std::shared_ptr<mnt::Maintenance::StubInterface> stub)
    : stub_(std::move(stub)) {
  using S = mnt::Maintenance::StubInterface;
  auto* stub_ptr = stub_.get();
  routes_ = {
      {"GET", "/api/admin/health", false,
       [stub_ptr](const Call& c) {
         return Invoke(stub_ptr, &S::GetHealth, c.authorization, mnt::GetHealthRequest(),
                       kShortCall);
       }},
      {"GET", "/api/admin/compaction-history", false,
       [stub_ptr](const Call& c) {
         return Invoke(stub_ptr, &S::GetCompactionHistory, c.authorization,
                       mnt::GetCompactionHistoryRequest(), kShortCall);
       }},
      {"GET", "/api/admin/events", false,
       [stub_ptr](const Call& c) {
         mnt::ListEventsRequest r;
         r.set_limit(1000);
         for (absl::string_view kv : absl::StrSplit(c.query, '&', absl::SkipEmpty())) {
           std::pair<std::string, std::string> p = absl::StrSplit(kv, absl::MaxSplits('=', 1));
           uint64_t after;
           uint32_t limit;
           if (p.first == "limit" && absl::SimpleAtoi(p.second, &limit) && limit >= 1 &&
               limit <= 1000) {
             r.set_limit(limit);
           }
           if (p.first == "after") {
             if (!absl::SimpleAtoi(p.second, &after)) {
               return JsonError(400, "INVALID_ARGUMENT", "after must be an event id (a number)");
             }
             r.set_after_id(after);
           }
         }
         return Invoke(stub_ptr, &S::ListEvents, c.authorization, r, kShortCall);
       }},
      {"GET", "/api/admin/backups", false,
       [stub_ptr](const Call& c) {
         return Invoke(stub_ptr, &S::ListBackups, c.authorization, mnt::ListBackupsRequest(),
                       kShortCall);
       }},
      {"GET", "/api/admin/backups/", true,
       [stub_ptr](const Call& c) {
         mnt::ListBackupsRequest r;
         r.set_table(c.table);
         return Invoke(stub_ptr, &S::ListBackups, c.authorization, r, kShortCall);
       }},
      {"POST", "/api/admin/compact", false,
       [stub_ptr](const Call& c) {
         mnt::CompactAllRequest r;
         HttpResponse error;
         if (!ParseBody(c.body, &r, &error)) return error;
         return Invoke(stub_ptr, &S::CompactAll, c.authorization, r, kLongCall);
       }},
      {"POST", "/api/admin/compact/", true,
       [stub_ptr](const Call& c) {
         mnt::CompactTableRequest r;
         HttpResponse error;
         if (!ParseBody(c.body, &r, &error)) return error;
         r.set_table(c.table);
         return Invoke(stub_ptr, &S::CompactTable, c.authorization, r, kLongCall);
       }},
      {"POST", "/api/admin/backup", false,
       [stub_ptr](const Call& c) {
         mnt::BackupAllRequest r;
         HttpResponse error;
         if (!ParseBody(c.body, &r, &error)) return error;
         return Invoke(stub_ptr, &S::BackupAll, c.authorization, r, kLongCall);
       }},
      {"POST", "/api/admin/backup/", true,
       [stub_ptr](const Call& c) {
         mnt::BackupTableRequest r;
         HttpResponse error;
         if (!ParseBody(c.body, &r, &error)) return error;
         r.set_table(c.table);
         return Invoke(stub_ptr, &S::BackupTable, c.authorization, r, kLongCall);
       }},
      {"POST", "/api/admin/restore/", true,
       [stub_ptr](const Call& c) {
         mnt::RestoreTableRequest r;
         HttpResponse error;
         if (!ParseBody(c.body, &r, &error)) return error;
         r.set_table(c.table);
         return Invoke(stub_ptr, &S::RestoreTable, c.authorization, r, kLongCall);
       }},
  };
}

std::vector<std::string> ApiRouter::RouteList() const {
  std::vector<std::string> out;
  for (const auto& r : routes_) {
    out.push_back(absl::StrCat(r.method, " ", r.prefix, r.has_table ? "{table}" : ""));
  }
  return out;
}

HttpResponse ApiRouter::Handle(const std::string& method, const std::string& target,
                               const std::string& authorization, const std::string& body) const {
  // gRPC aborts the process on a metadata value it considers illegal, so the
  // header is checked here (found by tests/fuzz/gateway_request_fuzz.cc).
  for (char ch : authorization) {
    if (ch < 0x20 || ch > 0x7e) {
      return JsonError(401, "UNAUTHENTICATED",
                       "the authorization header must be printable ASCII: Bearer <token>");
    }
  }
  std::pair<std::string, std::string> split = absl::StrSplit(target, absl::MaxSplits('?', 1));
  const std::string& path = split.first;
  bool path_known = false;
  for (const Route& route : routes_) {
    Call call{authorization, body, "", split.second};
    if (route.has_table) {
      if (!absl::StartsWith(path, route.prefix)) continue;
      call.table = path.substr(route.prefix.size());
      if (call.table.empty() || call.table.find('/') != std::string::npos) continue;
    } else if (path != route.prefix) {
      continue;
    }
    path_known = true;
    if (route.method != method) continue;
    return route.handle(call);
  }
  if (path_known) return JsonError(405, "METHOD_NOT_ALLOWED", absl::StrCat(method, " ", path));
  return JsonError(404, "NOT_FOUND", absl::StrCat("no route ", path));
}

}  // namespace agentcom::gateway
