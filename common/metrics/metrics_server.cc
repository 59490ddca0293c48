#include "common/metrics/metrics_server.h"

#include <exception>

#include "absl/strings/str_cat.h"

namespace agentcom::metrics {

MetricsServer::MetricsServer(std::unique_ptr<prometheus::Exposer> exposer)
    : exposer_(std::move(exposer)),
      registry_(std::make_shared<prometheus::Registry>()) {
  exposer_->RegisterCollectable(registry_);
}

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const std::string& address) {
  try {
    // One worker thread: scrapes are rare and small.
    auto exposer = std::make_unique<prometheus::Exposer>(address, 1);
    return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(exposer)));
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", address, ": ", e.what()));
  }
}

void MetricsServer::Register(const std::weak_ptr<prometheus::Collectable>& c) {
  exposer_->RegisterCollectable(c);
}

int MetricsServer::port() const {
  auto ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

}  // namespace agentcom::metrics
