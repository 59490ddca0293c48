#include "services/store_admin/store_process.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <cstdlib>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/auth/tokens.h"
#include "common/logging/log.h"
#include "common/server/process_main.h"
#include "common/storage/wal_shipper.h"
#include "services/store_admin/store_admin_service.h"

ABSL_FLAG(std::string, store, "",
          "Name of this store in the topology (default: $AGENTCOM_STORE, "
          "else the store kind).");

namespace agentcom::store_admin {

// Counts corruption detections per table, then passes them on.
class StoreProcess::CountingListener final : public storage::CorruptionListener {
 public:
  CountingListener(prometheus::Registry& registry, storage::CorruptionListener* next)
      : family_(prometheus::BuildCounter()
                    .Name("agentcom_corruption_detections_total")
                    .Help("Times a table was found corrupted by this store.")
                    .Register(registry)),
        next_(next) {}
  void OnCorruption(const std::string& table, const std::string& reason,
                    std::optional<uint64_t> records) override {
    family_.Add({{"table", table}}).Increment();
    next_->OnCorruption(table, reason, records);
  }
  // So the series exists (at 0) before the first detection.
  void Touch(const std::string& table) { family_.Add({{"table", table}}); }

 private:
  prometheus::Family<prometheus::Counter>& family_;
  storage::CorruptionListener* next_;
};

absl::StatusOr<std::unique_ptr<StoreProcess>> StoreProcess::Start(const config::Topology& topology,
                                                                  const std::string& store_name,
                                                                  const StoreDefinition& definition,
                                                                  Options options) {
  absl::StatusOr<const config::StoreSpec*> spec = config::FindStore(topology, store_name);
  if (!spec.ok()) return spec.status();
  for (const std::string& required : definition.required_tables) {
    bool found = false;
    for (const auto& t : (*spec)->tables()) found |= t.name() == required;
    if (!found) {
      return absl::InvalidArgumentError(absl::StrCat("store ", store_name, " (a ", definition.kind,
                                                     " store) must own table ", required,
                                                     " in the topology"));
    }
  }

  auto p = std::unique_ptr<StoreProcess>(new StoreProcess());
  p->topology_ = topology;
  const config::StoreSpec& store = **config::FindStore(p->topology_, store_name);

  auto authorizer = auth::Authorizer::FromFiles(topology.tokens().agent_token_file(),
                                                topology.tokens().admin_token_file());
  if (!authorizer.ok()) return authorizer.status();
  p->authorizer_ = *std::move(authorizer);
  absl::StatusOr<std::string> admin_token = auth::ReadToken(topology.tokens().admin_token_file());
  if (!admin_token.ok()) return admin_token.status();

  auto metrics = metrics::MetricsServer::Start(store.metrics_address());
  if (!metrics.ok()) return metrics.status();
  p->metrics_ = *std::move(metrics);

  auto stub = std::move(options.maintenance_stub);
  if (!stub) {
    stub = maintenance::v1::Maintenance::NewStub(
        grpc::CreateChannel(topology.maintenance().address(), grpc::InsecureChannelCredentials()));
  }
  p->reporter_ = std::make_unique<MaintenanceReporter>(
      MaintenanceReporter::Options{.store = store.name(), .admin_token = *admin_token},
      std::move(stub));
  p->listener_ = std::make_unique<CountingListener>(*p->metrics_->registry(), p->reporter_.get());

  for (const config::TableSpec& t : store.tables()) {
    storage::TableOptions to;
    to.name = t.name();
    to.dir = absl::StrCat(topology.data_dir(), "/", t.name());
    to.storage = config::EffectiveStorage(topology, t);
    to.env = options.env;
    to.listener = p->listener_.get();
    to.wal_ship_root = storage::ShippedWalRoot(topology.backup_dir(), t.name());
    p->listener_->Touch(t.name());
    auto table = storage::OpenTable(to);
    if (!table.ok()) return table.status();
    log::Info("table opened", {{"table", t.name()},
                               {"state", storage::StateName((*table)->state())},
                               {"records", (*table)->Stats().records()}});
    p->tables_.Add(*std::move(table));
  }
  p->table_metrics_ = std::make_shared<storage::TableMetrics>(p->tables_.All());
  p->metrics_->Register(p->table_metrics_);

  auto admin =
      std::make_unique<StoreAdminService>(*p->authorizer_, p->tables_, topology.backup_dir());
  StoreAdminService* admin_service = admin.get();
  p->services_.push_back(std::move(admin));
  p->calls_ = std::make_unique<server::CallPool>();
  StoreContext context{p->topology_,
                       store,
                       *p->authorizer_,
                       p->tables_,
                       [admin_service](std::function<absl::Status()> hook) {
                         admin_service->AfterRestore(std::move(hook));
                       },
                       p->metrics_->registry(),
                       &p->rooms_,
                       p->calls_.get()};
  auto domain = definition.make_services(context);
  if (!domain.ok()) return domain.status();
  for (auto& s : *domain) p->services_.push_back(std::move(s));

  std::vector<grpc::Service*> services;
  for (auto& s : p->services_) services.push_back(s.get());
  auto server = server::GrpcServer::Start(
      {.address = store.address(),
       .max_request_bytes = static_cast<int>(topology.limits().max_request_bytes()),
       .metrics = p->metrics_->registry()},
      services);
  if (!server.ok()) return server.status();
  p->server_ = *std::move(server);
  return p;
}

std::unique_ptr<server::WaitRoom> StoreContext::MakeWaitRoom(const std::string& service) const {
  auto room = std::make_unique<server::WaitRoom>(server::WaitRoom::Options{
      .service = service,
      .max_waiters = static_cast<int>(topology.limits().max_watchers()),
      .max_per_owner = static_cast<int>(topology.limits().max_watchers_per_owner()),
      .metrics = metrics});
  if (rooms != nullptr) rooms->push_back(room.get());
  return room;
}

StoreProcess::~StoreProcess() { Shutdown(); }

void StoreProcess::Shutdown() {
  for (server::WaitRoom* room : rooms_) room->Close();
  // Unary calls take milliseconds; after a sync unary call gRPC 1.51 has
  // been seen to hold its shutdown until the deadline although nothing is
  // in flight, and a restore waits for this process to exit.
  if (server_) server_->Shutdown(kShutdownGrace);
}

void StoreProcess::Close() {
  Shutdown();
  if (table_metrics_) table_metrics_->Detach();
  calls_.reset();  // idle: the server waited for every call
  services_.clear();
  // LevelDB's destructor waits for its background compaction, which after
  // a read error sleeps a full second before it gives up. A corrupted
  // table's files are about to be quarantined and a restore is waiting for
  // this process to exit, so it is not closed; the OS releases its lock.
  for (storage::Table* t : tables_.All()) {
    if (t->state() == common::v1::TABLE_STATE_CORRUPTED) (void)tables_.Release(t->name()).release();
  }
  tables_.Clear();
  reporter_.reset();
}

int RunStoreMain(int argc, char** argv, const StoreDefinition& definition) {
  std::string store;
  absl::StatusOr<config::Topology> topology = server::BeginMain(argc, argv, [&] {
    store = config::FlagOrEnv(absl::GetFlag(FLAGS_store), "AGENTCOM_STORE", definition.kind);
    return store;
  });
  if (!topology.ok()) return 2;
  absl::StatusOr<std::unique_ptr<StoreProcess>> process =
      StoreProcess::Start(*topology, store, definition, {});
  if (!process.ok()) {
    log::Error("cannot start", {{"error", std::string(process.status().message())}});
    return 1;
  }
  const config::StoreSpec& spec = **config::FindStore(*topology, store);
  log::Info("serving", {{"address", spec.address()},
                        {"port", (*process)->port()},
                        {"metrics", spec.metrics_address()}});
  server::WaitForShutdownSignal();
  const absl::Time stopping = absl::Now();
  (*process)->Close();
  log::Info("stopped", {{"seconds", absl::ToDoubleSeconds(absl::Now() - stopping)}});
  server::ExitAfterShutdown(0);
}

}  // namespace agentcom::store_admin
