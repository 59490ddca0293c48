#include "common/server/request_metrics.h"

#include <chrono>
#include <string>

#include "common/status/grpc_status.h"

namespace agentcom::server {
namespace {

using grpc::experimental::InterceptionHookPoints;

class RequestMetricsInterceptor final : public grpc::experimental::Interceptor {
 public:
  RequestMetricsInterceptor(RequestMetricsFactory& factory, std::string method,
                            RequestMetricsFactory::MethodMetrics& metrics)
      : factory_(factory),
        method_(std::move(method)),
        metrics_(metrics),
        start_(std::chrono::steady_clock::now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      factory_.Requests(metrics_, method_, methods->GetSendStatus().error_code()).Increment();
      const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start_;
      metrics_.duration->Observe(elapsed.count());
    }
    methods->Proceed();
  }

 private:
  RequestMetricsFactory& factory_;
  const std::string method_;
  RequestMetricsFactory::MethodMetrics& metrics_;
  const std::chrono::steady_clock::time_point start_;
};

}  // namespace

RequestMetricsFactory::RequestMetricsFactory(prometheus::Registry& registry)
    : requests_(prometheus::BuildCounter()
                    .Name("agentcom_grpc_requests_total")
                    .Help("gRPC requests handled, by method and status code.")
                    .Register(registry)),
      duration_(prometheus::BuildHistogram()
                    .Name("agentcom_grpc_request_duration_seconds")
                    .Help("Time from receiving a gRPC request to sending its status.")
                    .Register(registry)) {}

RequestMetricsFactory::MethodMetrics& RequestMetricsFactory::Method(const std::string& method) {
  absl::MutexLock l(&mu_);
  std::unique_ptr<MethodMetrics>& m = methods_[method];
  if (!m) {
    m = std::make_unique<MethodMetrics>();
    m->duration = &duration_.Add(
        {{"method", method}},
        prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30});
  }
  return *m;
}

prometheus::Counter& RequestMetricsFactory::Requests(MethodMetrics& method, const std::string& name,
                                                     grpc::StatusCode code) {
  const size_t i = static_cast<size_t>(code) < method.requests.size() ? code : 2;  // UNKNOWN
  if (prometheus::Counter* c = method.requests[i].load(std::memory_order_acquire)) return *c;
  absl::MutexLock l(&mu_);
  prometheus::Counter* c = method.requests[i].load();
  if (!c) {
    c = &requests_.Add(
        {{"method", name}, {"code", StatusCodeName(static_cast<grpc::StatusCode>(i))}});
    method.requests[i].store(c, std::memory_order_release);
  }
  return *c;
}

grpc::experimental::Interceptor* RequestMetricsFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  std::string method = info->method();
  MethodMetrics& metrics = Method(method);
  return new RequestMetricsInterceptor(*this, std::move(method), metrics);
}

}  // namespace agentcom::server
