#ifndef AGENTCOM_SERVICES_CONFIG_CONFIG_SERVICE_H_
#define AGENTCOM_SERVICES_CONFIG_CONFIG_SERVICE_H_

#include "agentcom/config/v1/config.grpc.pb.h"
#include "common/auth/authorizer.h"
#include "services/config/config_store.h"
#include "services/store_admin/store_process.h"

namespace agentcom::config_store {

// gRPC adapter over ConfigStore; agent role. Thread-safe.
class ConfigService final : public v1::Config::WithRawCallbackMethod_Put<v1::Config::Service> {
 public:
  ConfigService(const auth::Authorizer& authorizer, storage::Table* table,
                topology::v1::Limits limits)
      : authorizer_(authorizer), store_(table, std::move(limits), Clock::Real()) {}

  grpc::Status Get(grpc::ServerContext* context, const v1::GetRequest* request,
                   v1::Entry* response) override;
  // On the callback API: answered when the write commits (HandleAsync).
  grpc::ServerUnaryReactor* Put(grpc::CallbackServerContext* context,
                                const grpc::ByteBuffer* request,
                                grpc::ByteBuffer* response) override;
  grpc::Status Delete(grpc::ServerContext* context, const v1::DeleteRequest* request,
                      v1::DeleteResponse* response) override;
  grpc::Status List(grpc::ServerContext* context, const v1::ListRequest* request,
                    v1::ListResponse* response) override;

 private:
  const auth::Authorizer& authorizer_;
  ConfigStore store_;
};

// The config store process: table agentcom_config, services Config + StoreAdmin.
store_admin::StoreDefinition ConfigStoreDefinition();

}  // namespace agentcom::config_store

#endif  // AGENTCOM_SERVICES_CONFIG_CONFIG_SERVICE_H_
