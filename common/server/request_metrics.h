#ifndef AGENTCOM_COMMON_SERVER_REQUEST_METRICS_H_
#define AGENTCOM_COMMON_SERVER_REQUEST_METRICS_H_

#include <grpcpp/support/server_interceptor.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>

namespace agentcom::server {

// A server interceptor recording, for every RPC,
//   agentcom_grpc_requests_total{method, code}
//   agentcom_grpc_request_duration_seconds{method}
// (REQUIREMENTS M1). Thread-safe.
class RequestMetricsFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit RequestMetricsFactory(prometheus::Registry& registry);
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& duration_;
};

}  // namespace agentcom::server

#endif  // AGENTCOM_COMMON_SERVER_REQUEST_METRICS_H_
