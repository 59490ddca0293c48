#ifndef AGENTCOM_COMMON_SERVER_REQUEST_METRICS_H_
#define AGENTCOM_COMMON_SERVER_REQUEST_METRICS_H_

#include <grpcpp/support/server_interceptor.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <atomic>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

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

  // One method's series, created at its first call and then reused: a
  // Family lookup builds and hashes a label map each time, a real share of
  // a call's CPU.
  struct MethodMetrics {
    prometheus::Histogram* duration = nullptr;
    // By status code (0..16); created at first use, under mu_.
    std::array<std::atomic<prometheus::Counter*>, 17> requests{};
  };
  // The counter of `method`'s calls ending with `code`.
  prometheus::Counter& Requests(MethodMetrics& method, const std::string& name,
                                grpc::StatusCode code);

 private:
  MethodMetrics& Method(const std::string& method);

  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& duration_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<MethodMetrics>> methods_ ABSL_GUARDED_BY(mu_);
};

}  // namespace agentcom::server

#endif  // AGENTCOM_COMMON_SERVER_REQUEST_METRICS_H_
