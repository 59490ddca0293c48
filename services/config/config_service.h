#ifndef AGENTCOM_SERVICES_CONFIG_CONFIG_SERVICE_H_
#define AGENTCOM_SERVICES_CONFIG_CONFIG_SERVICE_H_

#include "agentcom/config/v1/config.grpc.pb.h"
#include "common/auth/authorizer.h"
#include "common/server/call_pool.h"
#include "common/server/handler.h"
#include "services/config/config_store.h"
#include "services/store_admin/store_process.h"

namespace agentcom::config_store {

// gRPC adapter over ConfigStore; agent role. Every call runs on gRPC's
// callback API. Thread-safe.
class ConfigService final
    : public server::RawCallbackMethods<v1::Config::Service, v1::Config::WithRawCallbackMethod_Get,
                                        v1::Config::WithRawCallbackMethod_Put,
                                        v1::Config::WithRawCallbackMethod_Delete,
                                        v1::Config::WithRawCallbackMethod_List> {
 public:
  // `calls` must outlive the server.
  ConfigService(const auth::Authorizer& authorizer, storage::Table* table,
                topology::v1::Limits limits, server::CallPool& calls)
      : authorizer_(authorizer), store_(table, std::move(limits), Clock::Real()), calls_(calls) {}

  // On the call pool (HandleOnPool).

  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* c, const grpc::ByteBuffer* raw,
                                grpc::ByteBuffer* out) override;
  // On the callback API: answered when the write commits (HandleAsync).
  grpc::ServerUnaryReactor* Put(grpc::CallbackServerContext* context,
                                const grpc::ByteBuffer* request,
                                grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Delete(grpc::CallbackServerContext* c, const grpc::ByteBuffer* raw,
                                   grpc::ByteBuffer* out) override;
  grpc::ServerUnaryReactor* List(grpc::CallbackServerContext* c, const grpc::ByteBuffer* raw,
                                 grpc::ByteBuffer* out) override;

 private:
  const auth::Authorizer& authorizer_;
  ConfigStore store_;
  server::CallPool& calls_;
};

// The config store process: table agentcom_config, services Config + StoreAdmin.
store_admin::StoreDefinition ConfigStoreDefinition();

}  // namespace agentcom::config_store

#endif  // AGENTCOM_SERVICES_CONFIG_CONFIG_SERVICE_H_
