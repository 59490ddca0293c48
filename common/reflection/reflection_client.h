#ifndef AGENTCOM_COMMON_REFLECTION_REFLECTION_CLIENT_H_
#define AGENTCOM_COMMON_REFLECTION_REFLECTION_CLIENT_H_

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor_database.h>
#include <grpcpp/channel.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace agentcom::reflection {

// Discovers a server's services through the gRPC server reflection protocol
// (grpc.reflection.v1alpha, as grpcurl does) and calls their methods with
// JSON, using the protobuf JSON mapping. Not thread-safe.
class ReflectionClient {
 public:
  using Metadata = std::vector<std::pair<std::string, std::string>>;

  ReflectionClient(std::shared_ptr<grpc::Channel> channel, Metadata metadata,
                   absl::Duration timeout);

  // Fully-qualified names of the services the server exposes, sorted.
  absl::StatusOr<std::vector<std::string>> ListServices();

  // Descriptor of a service, message or method ("pkg.Service.Method" or
  // "pkg.Service/Method"), fetched with its dependencies. NOT_FOUND when the
  // server does not know it.
  absl::StatusOr<const google::protobuf::ServiceDescriptor*> FindService(
      const std::string& name);
  absl::StatusOr<const google::protobuf::MethodDescriptor*> FindMethod(
      const std::string& name);

  // Calls `method` with the JSON request and hands every response, as JSON,
  // to `on_response`. Returns the call's status (INVALID_ARGUMENT for JSON
  // that does not match the request type).
  absl::Status CallJson(const std::string& method, const std::string& json,
                        bool emit_defaults,
                        const std::function<void(const std::string&)>& on_response);

 private:
  // Sends one reflection request; returns the serialized response.
  absl::StatusOr<std::string> Ask(const std::string& request);
  absl::Status LoadFileContaining(const std::string& symbol);
  absl::Status AddFiles(const std::string& response);

  std::shared_ptr<grpc::Channel> channel_;
  Metadata metadata_;
  absl::Duration timeout_;
  google::protobuf::SimpleDescriptorDatabase database_;
  std::unique_ptr<google::protobuf::DescriptorPool> pool_;
  std::map<std::string, bool> loaded_files_;
};

}  // namespace agentcom::reflection

#endif  // AGENTCOM_COMMON_REFLECTION_REFLECTION_CLIENT_H_
