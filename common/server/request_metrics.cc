#include "common/server/request_metrics.h"

#include <chrono>
#include <string>

namespace agentcom::server {
namespace {

using grpc::experimental::InterceptionHookPoints;

const char* CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::OK: return "OK";
    case grpc::CANCELLED: return "CANCELLED";
    case grpc::UNKNOWN: return "UNKNOWN";
    case grpc::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::NOT_FOUND: return "NOT_FOUND";
    case grpc::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::ABORTED: return "ABORTED";
    case grpc::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::INTERNAL: return "INTERNAL";
    case grpc::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::DATA_LOSS: return "DATA_LOSS";
    case grpc::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "UNKNOWN";
  }
}

class RequestMetricsInterceptor final : public grpc::experimental::Interceptor {
 public:
  RequestMetricsInterceptor(std::string method,
                            prometheus::Family<prometheus::Counter>& requests,
                            prometheus::Family<prometheus::Histogram>& duration)
      : method_(std::move(method)),
        requests_(requests),
        duration_(duration),
        start_(std::chrono::steady_clock::now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      const grpc::Status status = methods->GetSendStatus();
      requests_.Add({{"method", method_}, {"code", CodeName(status.error_code())}})
          .Increment();
      const std::chrono::duration<double> elapsed =
          std::chrono::steady_clock::now() - start_;
      duration_
          .Add({{"method", method_}},
               prometheus::Histogram::BucketBoundaries{
                   0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                   0.25, 0.5, 1, 2.5, 5, 10, 30})
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
