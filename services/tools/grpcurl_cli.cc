#include "services/tools/grpcurl_cli.h"

#include <google/protobuf/descriptor.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <iostream>
#include <iterator>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/reflection/reflection_client.h"

namespace agentcom::tools {
namespace {

constexpr char kUsage[] =
    "usage: agentcom_grpcurl [-plaintext] [-H 'name: value']... [-d JSON|@]\n"
    "                        [-max-time SECONDS] [-emit-defaults]\n"
    "                        ADDRESS (list [SERVICE] | describe SYMBOL | SERVICE/METHOD)\n";

// grpcurl's names for status codes ("NotFound").
std::string CodeName(absl::StatusCode code) {
  std::string upper = absl::StatusCodeToString(code);
  std::string out;
  bool up = true;
  for (char c : upper) {
    if (c == '_') {
      up = true;
      continue;
    }
    out.push_back(up ? c : absl::ascii_tolower(c));
    up = false;
  }
  return out;
}

int Fail(std::ostream& err, const absl::Status& s) {
  err << "ERROR:\n  Code: " << CodeName(s.code()) << "\n  Message: " << s.message() << "\n";
  return 64 + static_cast<int>(s.code());
}

}  // namespace

int RunGrpcurl(const std::vector<std::string>& args, std::istream& in, std::ostream& out,
               std::ostream& err) {
  bool plaintext = false;
  bool emit_defaults = false;
  std::string data;
  double max_time = 30;
  reflection::ReflectionClient::Metadata metadata;
  size_t i = 0;
  auto need_value = [&](const std::string& flag) -> const std::string* {
    if (i + 1 >= args.size()) {
      err << flag << " needs a value\n" << kUsage;
      return nullptr;
    }
    return &args[++i];
  };
  for (; i < args.size() && !args[i].empty() && args[i][0] == '-'; ++i) {
    std::string flag = args[i];
    if (flag.rfind("--", 0) == 0) flag = flag.substr(1);
    if (flag == "-plaintext") {
      plaintext = true;
    } else if (flag == "-emit-defaults") {
      emit_defaults = true;
    } else if (flag == "-H" || flag == "-rpc-header" || flag == "-reflect-header") {
      const std::string* v = need_value(flag);
      if (!v) return 1;
      size_t colon = v->find(':');
      if (colon == std::string::npos) {
        err << "header '" << *v << "' is not 'name: value'\n";
        return 1;
      }
      metadata.emplace_back(absl::AsciiStrToLower(absl::StripAsciiWhitespace(v->substr(0, colon))),
                            std::string(absl::StripAsciiWhitespace(v->substr(colon + 1))));
    } else if (flag == "-d") {
      const std::string* v = need_value(flag);
      if (!v) return 1;
      data = *v;
      if (data == "@") data.assign(std::istreambuf_iterator<char>(in), {});
    } else if (flag == "-max-time" || flag == "-connect-timeout") {
      const std::string* v = need_value(flag);
      if (!v) return 1;
      if (!absl::SimpleAtod(*v, &max_time) || max_time <= 0) {
        err << flag << " needs a positive number of seconds\n";
        return 1;
      }
    } else {
      err << "unknown flag " << args[i] << "\n" << kUsage;
      return 1;
    }
  }
  if (i >= args.size()) {
    err << kUsage;
    return 1;
  }
  if (!plaintext) {
    err << "only -plaintext connections are supported by this client "
           "(the storage plane listens on loopback; put TLS in front of it)\n";
    return 1;
  }
  const std::string address = args[i++];
  const std::string verb = i < args.size() ? args[i++] : "list";
  const std::string arg = i < args.size() ? args[i++] : "";

  reflection::ReflectionClient client(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()), metadata,
      absl::Seconds(max_time));
  if (verb == "list") {
    if (arg.empty()) {
      auto names = client.ListServices();
      if (!names.ok()) return Fail(err, names.status());
      for (const auto& n : *names) out << n << "\n";
      return 0;
    }
    auto service = client.FindService(arg);
    if (!service.ok()) return Fail(err, service.status());
    for (int m = 0; m < (*service)->method_count(); ++m) {
      out << (*service)->method(m)->full_name() << "\n";
    }
    return 0;
  }
  if (verb == "describe") {
    auto service = client.FindService(arg);
    if (service.ok()) {
      out << (*service)->DebugString();
      return 0;
    }
    auto method = client.FindMethod(arg);
    if (!method.ok()) return Fail(err, method.status());
    out << (*method)->DebugString();
    return 0;
  }
  absl::Status s = client.CallJson(verb, data, emit_defaults,
                                   // Flushed per response, so a Watch shows
                                   // each batch as it is pushed.
                                   [&](const std::string& json) { out << json << std::flush; });
  if (!s.ok()) return Fail(err, s);
  return 0;
}

}  // namespace agentcom::tools
