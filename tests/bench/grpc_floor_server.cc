// agentcom_grpc_floor: the floor under every unary call of a store. A gRPC
// server that answers `agentcom.config.v1.Config/Get` at once with an empty
// Entry: no authorisation, no metrics, no storage. agentcom_bench drives it
// with the same clients as the stores and reports its CPU per call beside
// theirs, so the share of a call that is gRPC's own is measured, not
// guessed. Prints the port it listens on, then serves until SIGTERM.
//
//   agentcom_grpc_floor --api=callback|sync
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "agentcom/config/v1/config.grpc.pb.h"
#include "common/server/grpc_server.h"

ABSL_FLAG(std::string, api, "callback",
          "callback: gRPC's callback API; sync: the synchronous one.");

namespace agentcom::bench {
namespace {

class CallbackFloor final : public config::v1::Config::CallbackService {
  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* context, const config::v1::GetRequest*,
                                config::v1::Entry*) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

class SyncFloor final : public config::v1::Config::Service {
  grpc::Status Get(grpc::ServerContext*, const config::v1::GetRequest*,
                   config::v1::Entry*) override {
    return grpc::Status::OK;
  }
};

int Main() {
  server::BlockShutdownSignals();
  CallbackFloor callback;
  SyncFloor sync;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  if (absl::GetFlag(FLAGS_api) == "sync") {
    builder.RegisterService(&sync);
  } else {
    builder.RegisterService(&callback);
  }
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) return 1;
  std::cout << port << std::endl;
  server::WaitForShutdownSignal();
  server->Shutdown();
  return 0;
}

}  // namespace
}  // namespace agentcom::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return agentcom::bench::Main();
}
