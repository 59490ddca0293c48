#ifndef AGENTCOM_COMMON_METRICS_METRICS_SERVER_H_
#define AGENTCOM_COMMON_METRICS_METRICS_SERVER_H_

#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace agentcom::metrics {

// The process's Prometheus endpoint: GET /metrics on `address`. Owns the
// process-wide registry. Thread-safe.
class MetricsServer {
 public:
  // Binds `address` ("127.0.0.1:9401"; port 0 picks a free port).
  // UNAVAILABLE when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      const std::string& address);

  const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }
  // Adds a collector evaluated at every scrape; it must outlive this server
  // or be unregistered by expiring.
  void Register(const std::weak_ptr<prometheus::Collectable>& collectable);
  int port() const;

 private:
  MetricsServer(std::unique_ptr<prometheus::Exposer> exposer);
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::shared_ptr<prometheus::Registry> registry_;
};

}  // namespace agentcom::metrics

#endif  // AGENTCOM_COMMON_METRICS_METRICS_SERVER_H_
