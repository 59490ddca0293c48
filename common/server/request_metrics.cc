#include "common/server/request_metrics.h"

#include <chrono>
#include <string>

#include "common/status/grpc_status.h"

namespace agentcom::server {
namespace {

using grpc::experimental::InterceptionHookPoints;

class RequestMetricsInterceptor final : public grpc::experimental::Interceptor {
 public:
  RequestMetricsInterceptor(std::string method, prometheus::Family<prometheus::Counter>& requests,
                            prometheus::Family<prometheus::Histogram>& duration)
      : method_(std::move(method)),
        requests_(requests),
        duration_(duration),
        start_(std::chrono::steady_clock::now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      const grpc::Status status = methods->GetSendStatus();
      requests_.Add({{"method", method_}, {"code", StatusCodeName(status.error_code())}})
          .Increment();
      const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start_;
      duration_
          .Add({{"method", method_}},
               prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                       0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30})
          .Observe(elapsed.count());
    }
    methods->Proceed();
  }

 private:
  const std::string method_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& duration_;
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

grpc::experimental::Interceptor* RequestMetricsFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  return new RequestMetricsInterceptor(info->method(), requests_, duration_);
}

}  // namespace agentcom::server
