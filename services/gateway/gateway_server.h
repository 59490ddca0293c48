#ifndef AGENTCOM_SERVICES_GATEWAY_GATEWAY_SERVER_H_
#define AGENTCOM_SERVICES_GATEWAY_GATEWAY_SERVER_H_

#include <grpcpp/channel.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace agentcom::gateway {

// The HTTP and WebSocket front of the maintenance API (Boost.Beast):
//   /api/admin/...  JSON routes (ApiRouter), token passed through
//   /healthz        the gateway's own liveness
//   /ws             WebSocket: after a {"token": "...", "after_id": N} first
//                   message (or an Authorization header on the upgrade), every
//                   maintenance event as JSON, fanned out from one stream
//   /               the dashboard's static files (read once at start)
// Request bodies over max_body_bytes are 413, headers over 8 KiB 431; a
// client idle for idle_timeout is disconnected; a WebSocket client that does
// not keep up with 256 queued events is dropped. Thread-safe.
class GatewayServer {
 public:
  struct Options {
    std::string address = "127.0.0.1:0";
    std::string static_dir;
    uint32_t max_body_bytes = 65536;
    absl::Duration idle_timeout = absl::Seconds(30);
    std::shared_ptr<grpc::Channel> maintenance;
    // Token the gateway uses for its own event stream (admin).
    std::string watch_token;
    // When set, request and client counts are recorded into it.
    std::shared_ptr<prometheus::Registry> metrics;
  };

  static absl::StatusOr<std::unique_ptr<GatewayServer>> Start(const Options& options);
  ~GatewayServer();
  int port() const;
  void Shutdown();

  struct Impl;  // public so the session classes in the .cc can use it

 private:
  explicit GatewayServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace agentcom::gateway

#endif  // AGENTCOM_SERVICES_GATEWAY_GATEWAY_SERVER_H_
