#include "common/reflection/reflection_client.h"

#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/client_context.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "agentcom/third_party/grpc_reflection_v1alpha.pb.h"
#include "common/reflection/generic_call.h"
#include "common/status/grpc_status.h"

namespace agentcom::reflection {
namespace {

namespace rpb = ::agentcom::third_party::grpc_reflection::v1alpha;
constexpr char kReflectionPath[] = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";

}  // namespace

ReflectionClient::ReflectionClient(std::shared_ptr<grpc::Channel> channel, Metadata metadata,
                                   absl::Duration timeout)
    : channel_(std::move(channel)),
      metadata_(std::move(metadata)),
      timeout_(timeout),
      pool_(std::make_unique<google::protobuf::DescriptorPool>(&database_)) {}

absl::StatusOr<std::string> ReflectionClient::Ask(const std::string& request) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
  for (const auto& [k, v] : metadata_) context.AddMetadata(k, v);
  auto call = GenericCall::Start(channel_, kReflectionPath, &context);
  if (!call.ok()) return call.status();
  if (auto s = (*call)->Write(request); !s.ok()) return FromGrpcStatus((*call)->Finish());
  (void)(*call)->WritesDone();
  std::optional<std::string> response = (*call)->Read();
  while ((*call)->Read()) {
  }
  grpc::Status status = (*call)->Finish();
  if (!status.ok()) return FromGrpcStatus(status);
  if (!response) return absl::UnavailableError("server reflection sent no response");
  return *response;
}

absl::StatusOr<std::vector<std::string>> ReflectionClient::ListServices() {
  rpb::ServerReflectionRequest request;
  request.set_list_services("*");
  absl::StatusOr<std::string> raw = Ask(request.SerializeAsString());
  if (!raw.ok()) return raw.status();
  rpb::ServerReflectionResponse response;
  if (!response.ParseFromString(*raw)) {
    return absl::DataLossError("malformed server reflection response");
  }
  if (response.has_error_response()) {
    return absl::Status(static_cast<absl::StatusCode>(response.error_response().error_code()),
                        response.error_response().error_message());
  }
  std::vector<std::string> names;
  for (const auto& s : response.list_services_response().service()) names.push_back(s.name());
  std::sort(names.begin(), names.end());
  return names;
}

absl::Status ReflectionClient::AddFiles(const std::string& raw) {
  rpb::ServerReflectionResponse response;
  if (!response.ParseFromString(raw)) {
    return absl::DataLossError("malformed server reflection response");
  }
  if (response.has_error_response()) {
    return absl::Status(static_cast<absl::StatusCode>(response.error_response().error_code()),
                        response.error_response().error_message());
  }
  std::vector<std::string> missing;
  for (const std::string& bytes : response.file_descriptor_response().file_descriptor_proto()) {
    google::protobuf::FileDescriptorProto file;
    if (!file.ParseFromString(bytes)) {
      return absl::DataLossError("malformed file descriptor from server reflection");
    }
    if (loaded_files_[file.name()]) continue;
    loaded_files_[file.name()] = true;
    for (const std::string& dep : file.dependency()) missing.push_back(dep);
    database_.Add(file);
  }
  for (const std::string& dep : missing) {
    if (loaded_files_[dep]) continue;
    rpb::ServerReflectionRequest request;
    request.set_file_by_filename(dep);
    absl::StatusOr<std::string> more = Ask(request.SerializeAsString());
    if (!more.ok()) return more.status();
    if (auto s = AddFiles(*more); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status ReflectionClient::LoadFileContaining(const std::string& symbol) {
  rpb::ServerReflectionRequest request;
  request.set_file_containing_symbol(symbol);
  absl::StatusOr<std::string> raw = Ask(request.SerializeAsString());
  if (!raw.ok()) return raw.status();
  return AddFiles(*raw);
}

absl::StatusOr<const google::protobuf::ServiceDescriptor*> ReflectionClient::FindService(
    const std::string& name) {
  if (const auto* s = pool_->FindServiceByName(name)) return s;
  if (auto st = LoadFileContaining(name); !st.ok()) {
    return absl::NotFoundError(absl::StrCat("service ", name, ": ", st.message()));
  }
  if (const auto* s = pool_->FindServiceByName(name)) return s;
  return absl::NotFoundError(absl::StrCat("service ", name, " is not served here"));
}

absl::StatusOr<const google::protobuf::MethodDescriptor*> ReflectionClient::FindMethod(
    const std::string& name) {
  std::string full = absl::StrReplaceAll(name, {{"/", "."}});
  size_t dot = full.rfind('.');
  if (dot == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("'", name, "' is not Service/Method"));
  }
  absl::StatusOr<const google::protobuf::ServiceDescriptor*> service =
      FindService(full.substr(0, dot));
  if (!service.ok()) return service.status();
  if (const auto* m = (*service)->FindMethodByName(full.substr(dot + 1))) return m;
  return absl::NotFoundError(
      absl::StrCat("method ", name, " is not in service ", (*service)->full_name()));
}

absl::Status ReflectionClient::CallJson(
    const std::string& method, const std::string& json, bool emit_defaults,
    const std::function<void(const std::string&)>& on_response) {
  absl::StatusOr<const google::protobuf::MethodDescriptor*> m = FindMethod(method);
  if (!m.ok()) return m.status();
  google::protobuf::DynamicMessageFactory factory(pool_.get());
  std::unique_ptr<google::protobuf::Message> request(
      factory.GetPrototype((*m)->input_type())->New());
  auto parsed =
      google::protobuf::util::JsonStringToMessage(json.empty() ? "{}" : json, request.get());
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("request is not a valid ",
                                                   (*m)->input_type()->full_name(), ": ",
                                                   parsed.message().as_string()));
  }
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
  for (const auto& [k, v] : metadata_) context.AddMetadata(k, v);
  auto call = GenericCall::Start(
      channel_, absl::StrCat("/", (*m)->service()->full_name(), "/", (*m)->name()), &context);
  if (!call.ok()) return call.status();
  if ((*call)->Write(request->SerializeAsString()).ok()) (void)(*call)->WritesDone();
  google::protobuf::util::JsonPrintOptions print;
  print.add_whitespace = true;
  print.always_print_primitive_fields = emit_defaults;
  while (std::optional<std::string> raw = (*call)->Read()) {
    std::unique_ptr<google::protobuf::Message> response(
        factory.GetPrototype((*m)->output_type())->New());
    if (!response->ParseFromString(*raw)) {
      return absl::DataLossError("malformed response message");
    }
    std::string out;
    (void)google::protobuf::util::MessageToJsonString(*response, &out, print);
    on_response(out);
  }
  return FromGrpcStatus((*call)->Finish());
}

}  // namespace agentcom::reflection
