#include "services/maintenance/store_client.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agentcom/store_admin/v1/store_admin.grpc.pb.h"
#include "common/status/grpc_status.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace agentcom::maintenance {
namespace {

class GrpcStoreClient final : public StoreClient {
 public:
  GrpcStoreClient(const config::Topology& topology, std::string token) : token_(std::move(token)) {
    for (const auto& store : topology.stores()) {
      // A restore stops and restarts the store; gRPC's default reconnect
      // backoff (1 s growing to 120 s) would otherwise dominate the time
      // until the restarted store is seen SERVING.
      grpc::ChannelArguments args;
      args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50);
      args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 50);
      args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
      auto channel =
          grpc::CreateCustomChannel(store.address(), grpc::InsecureChannelCredentials(), args);
      Store s{store.name(), store_admin::v1::StoreAdmin::NewStub(channel),
              grpc::health::v1::Health::NewStub(channel)};
      auto shared = std::make_shared<Store>(std::move(s));
      for (const auto& t : store.tables()) stores_[t.name()] = shared;
    }
  }

  absl::StatusOr<common::v1::TableStats> GetTableStats(const std::string& table) override {
    store_admin::v1::GetTableStatsRequest r;
    r.set_table(table);
    common::v1::TableStats out;
    return Call(
        table, absl::Seconds(5),
        [&](auto& s, auto* ctx) { return s.admin->GetTableStats(ctx, r, &out); }, &out);
  }
  absl::StatusOr<store_admin::v1::CompactResponse> Compact(const std::string& table) override {
    store_admin::v1::CompactRequest r;
    r.set_table(table);
    store_admin::v1::CompactResponse out;
    return Call(
        table, absl::Hours(2), [&](auto& s, auto* ctx) { return s.admin->Compact(ctx, r, &out); },
        &out);
  }
  absl::StatusOr<store_admin::v1::SnapshotResponse> Snapshot(const std::string& table) override {
    store_admin::v1::SnapshotRequest r;
    r.set_table(table);
    store_admin::v1::SnapshotResponse out;
    return Call(
        table, absl::Hours(2), [&](auto& s, auto* ctx) { return s.admin->Snapshot(ctx, r, &out); },
        &out);
  }
  absl::StatusOr<store_admin::v1::VerifyResponse> Verify(const std::string& table) override {
    store_admin::v1::VerifyRequest r;
    r.set_table(table);
    store_admin::v1::VerifyResponse out;
    return Call(
        table, absl::Hours(2), [&](auto& s, auto* ctx) { return s.admin->Verify(ctx, r, &out); },
        &out);
  }
  absl::StatusOr<store_admin::v1::FinishRestoreResponse> FinishRestore(
      const std::string& table, const storage::RestoreExpectation& expected) override {
    store_admin::v1::FinishRestoreRequest r;
    r.set_table(table);
    if (expected.record_count.has_value()) r.set_record_count(*expected.record_count);
    r.set_content_hash(expected.content_hash);
    if (expected.records_at_corruption.has_value()) {
      r.set_records_at_corruption(*expected.records_at_corruption);
    }
    store_admin::v1::FinishRestoreResponse out;
    return Call(
        table, absl::Hours(2),
        [&](auto& s, auto* ctx) { return s.admin->FinishRestore(ctx, r, &out); }, &out);
  }
  absl::Status WaitServing(const std::string& table, absl::Duration timeout) override {
    auto it = stores_.find(table);
    if (it == stores_.end()) return absl::NotFoundError(absl::StrCat("table ", table));
    const absl::Time deadline = absl::Now() + timeout;
    grpc::Status last;
    while (absl::Now() < deadline) {
      grpc::ClientContext ctx;
      ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
      grpc::health::v1::HealthCheckResponse r;
      last = it->second->health->Check(&ctx, grpc::health::v1::HealthCheckRequest(), &r);
      if (last.ok() && r.status() == grpc::health::v1::HealthCheckResponse::SERVING) {
        return absl::OkStatus();
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    return absl::DeadlineExceededError(
        absl::StrCat("store ", it->second->name, " did not report SERVING within ",
                     absl::FormatDuration(timeout), ": ", last.error_message()));
  }

 private:
  struct Store {
    std::string name;
    std::unique_ptr<store_admin::v1::StoreAdmin::Stub> admin;
    std::unique_ptr<grpc::health::v1::Health::Stub> health;
  };

  template <typename Fn, typename T>
  absl::StatusOr<T> Call(const std::string& table, absl::Duration timeout, Fn fn, T* out) {
    auto it = stores_.find(table);
    if (it == stores_.end()) return absl::NotFoundError(absl::StrCat("table ", table));
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    ctx.AddMetadata("authorization", absl::StrCat("Bearer ", token_));
    grpc::Status s = fn(*it->second, &ctx);
    if (s.error_code() == grpc::StatusCode::UNAVAILABLE &&
        s.error_message().find("table ") == std::string::npos) {
      return absl::UnavailableError(
          absl::StrCat("store ", it->second->name, " is unreachable: ", s.error_message()));
    }
    if (!s.ok()) return FromGrpcStatus(s);
    return std::move(*out);
  }

  const std::string token_;
  std::map<std::string, std::shared_ptr<Store>> stores_;
};

}  // namespace

std::unique_ptr<StoreClient> NewGrpcStoreClient(const config::Topology& topology,
                                                const std::string& admin_token) {
  return std::make_unique<GrpcStoreClient>(topology, admin_token);
}

}  // namespace agentcom::maintenance
