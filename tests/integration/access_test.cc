// Bad input and access (issue 8) against the running system: every method of
// every gRPC service each process serves (found by server reflection, as
// grpcurl finds them) is called without a token, with a wrong token, with an
// agent token where it needs admin, and with bytes that are not protobuf.
// Then ids that try to escape their directory, unknown tables and oversized
// requests. Every call is refused with the right code, nothing is written
// (record counts and the event log are unchanged), nothing appears outside
// the configured directories, and every process stays up.
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>

#include <filesystem>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agentcom/config/v1/config.grpc.pb.h"
#include "agentcom/store_admin/v1/store_admin.grpc.pb.h"
#include "common/reflection/generic_call.h"
#include "common/reflection/reflection_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/system_fixture.h"

namespace agentcom::testing {
namespace {

namespace fs = std::filesystem;
namespace mnt = ::agentcom::maintenance::v1;
namespace mbx = ::agentcom::mailbox::v1;
using ::testing::HasSubstr;

struct Endpoint {
  std::string process;
  std::shared_ptr<grpc::Channel> channel;
};

class AccessTest : public SystemTest {
 protected:
  std::vector<Endpoint> Endpoints() {
    std::vector<Endpoint> out = {{"maintenance", system_->MaintenanceChannel()}};
    for (const auto& store : system_->topology().stores()) {
      out.push_back({store.name(), system_->Channel(store.name())});
    }
    return out;
  }
  // Records of every table and the number of events: what must not change.
  std::string State() {
    grpc::ClientContext ctx;
    Admin(&ctx);
    mnt::GetHealthResponse health;
    EXPECT_TRUE(maintenance_->GetHealth(&ctx, {}, &health).ok());
    std::string out;
    for (const auto& t : health.tables()) {
      absl::StrAppend(&out, t.stats().table(), "=", t.stats().records(), " ");
    }
    absl::StrAppend(&out, "events=", Events().size());
    return out;
  }
  static grpc::Status Call(const std::shared_ptr<grpc::Channel>& channel, const std::string& path,
                           const std::string& token, const std::string& payload) {
    grpc::ClientContext ctx;
    if (!token.empty()) Authorize(&ctx, token);
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    auto call = reflection::GenericCall::Start(channel, path, &ctx);
    if (!call.ok())
      return grpc::Status(grpc::StatusCode::INTERNAL, std::string(call.status().message()));
    (void)(*call)->Write(payload);
    (void)(*call)->WritesDone();
    while ((*call)->Read().has_value()) {
    }
    return (*call)->Finish();
  }
};

TEST_F(AccessTest, EveryRpcRefusesMissingWrongAndUnderprivilegedTokensAndMalformedBytes) {
  system_->EnqueueMessages(10);
  const std::string before = State();
  int methods = 0;
  for (const Endpoint& e : Endpoints()) {
    reflection::ReflectionClient reflect(e.channel, {}, absl::Seconds(10));
    auto services = reflect.ListServices();
    ASSERT_TRUE(services.ok()) << e.process << ": " << services.status();
    for (const std::string& name : *services) {
      if (!absl::StartsWith(name, "agentcom.")) continue;  // health, reflection
      auto service = reflect.FindService(name);
      ASSERT_TRUE(service.ok()) << name;
      const bool admin_only =
          absl::StrContains(name, "StoreAdmin") || absl::StrContains(name, "Maintenance");
      for (int i = 0; i < (*service)->method_count(); ++i) {
        const std::string path = absl::StrCat("/", name, "/", (*service)->method(i)->name());
        SCOPED_TRACE(absl::StrCat(e.process, " ", path));
        ++methods;
        EXPECT_EQ(Call(e.channel, path, "", "").error_code(), grpc::StatusCode::UNAUTHENTICATED);
        EXPECT_EQ(Call(e.channel, path, "wrong-token-0123456789abcdef", "").error_code(),
                  grpc::StatusCode::UNAUTHENTICATED);
        if (admin_only) {
          EXPECT_EQ(Call(e.channel, path, system_->agent_token(), "").error_code(),
                    grpc::StatusCode::PERMISSION_DENIED);
        }
        // Not protobuf: a field tag with a length running past the end.
        grpc::Status garbage =
            Call(e.channel, path, system_->admin_token(), std::string("\x0a\xff\xff\xff\x0f", 5));
        // Every agent call runs on the callback API and parses its own
        // request (gRPC 1.51 would answer UNIMPLEMENTED for a typed
        // callback method): INVALID_ARGUMENT. The operators' services are
        // synchronous, and gRPC refuses what it cannot parse before any
        // handler runs: INTERNAL.
        EXPECT_EQ(garbage.error_code(),
                  admin_only ? grpc::StatusCode::INTERNAL : grpc::StatusCode::INVALID_ARGUMENT)
            << path << ": " << garbage.error_message();
      }
    }
  }
  std::cout << "[ MEASURED ] " << methods << " methods called 4 ways each\n";
  EXPECT_GE(methods, 40);
  EXPECT_EQ(State(), before);
  EXPECT_TRUE(system_->WaitServing(absl::Seconds(5)));
}

TEST_F(AccessTest, IdsThatEscapeUnknownTablesAndOversizedRequestsAreRefusedAndWriteNothing) {
  const std::string before = State();
  // Ids are keys inside a table, never paths; they are still held to their
  // alphabet and length.
  const std::vector<std::string> bad_ids = {"../../etc/passwd", "a/b", std::string("nul\0x", 5),
                                            std::string(4096, 'x'), ""};
  // Agent data paths.
  for (const std::string& id : bad_ids) {
    grpc::ClientContext ctx;
    Authorize(&ctx, system_->agent_token());
    mbx::EnqueueRequest r;
    r.set_agent_id(id);
    r.mutable_message()->set_body("x");
    mbx::EnqueueResponse out;
    EXPECT_EQ(mailbox_->Enqueue(&ctx, r, &out).error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << "agent id of " << id.size() << " bytes";
  }
  auto config = config::v1::Config::NewStub(system_->Channel("config"));
  // Config keys are opaque printable ASCII ("a/b" is a fine key).
  for (const std::string& key : {std::string("nul\0x", 5), std::string(4096, 'k'), std::string(""),
                                 std::string("has space")}) {
    grpc::ClientContext ctx;
    Authorize(&ctx, system_->agent_token());
    config::v1::PutRequest r;
    r.set_key(key);
    r.set_value("v");
    config::v1::Entry out;
    EXPECT_EQ(config->Put(&ctx, r, &out).error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << "key of " << key.size() << " bytes";
  }
  // Admin paths that name tables and backups: unknown, or escaping.
  auto admin = store_admin::v1::StoreAdmin::NewStub(system_->Channel("mailbox"));
  for (const std::string& table : {std::string("../agent_mailbox"), std::string("no_such_table"),
                                   std::string("/etc"), std::string("agent_mailbox/..")}) {
    grpc::ClientContext c1;
    Admin(&c1);
    store_admin::v1::SnapshotRequest snap;
    snap.set_table(table);
    store_admin::v1::SnapshotResponse snapped;
    grpc::Status s = admin->Snapshot(&c1, snap, &snapped);
    EXPECT_THAT(s.error_code(),
                ::testing::AnyOf(grpc::StatusCode::NOT_FOUND, grpc::StatusCode::INVALID_ARGUMENT))
        << table;
    grpc::ClientContext c2;
    Admin(&c2);
    mnt::BackupTableRequest backup;
    backup.set_table(table);
    mnt::BackupRun run;
    EXPECT_EQ(maintenance_->BackupTable(&c2, backup, &run).error_code(),
              grpc::StatusCode::NOT_FOUND)
        << table;
  }
  for (const std::string& id :
       {std::string("../../../tmp"), std::string("20261125T000000.000000Z/.."), std::string("x")}) {
    grpc::ClientContext ctx;
    Admin(&ctx);
    mnt::RestoreTableRequest r;
    r.set_table("agent_mailbox");
    r.set_backup_id(id);
    mnt::RestoreResult out;
    EXPECT_EQ(maintenance_->RestoreTable(&ctx, r, &out).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT)
        << id;
  }
  // A request over max_request_bytes is refused by gRPC before any handler.
  {
    grpc::ClientContext ctx;
    Authorize(&ctx, system_->agent_token());
    mbx::EnqueueRequest r;
    r.set_agent_id("alice");
    r.mutable_message()->set_body(
        std::string(system_->topology().limits().max_request_bytes() + 1, 'x'));
    mbx::EnqueueResponse out;
    EXPECT_EQ(mailbox_->Enqueue(&ctx, r, &out).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  }
  EXPECT_EQ(State(), before);
  // Nothing outside the configured directories: the test root holds only
  // what the system was configured with.
  std::set<std::string> top;
  for (const auto& e : fs::directory_iterator(dir_.path()))
    top.insert(e.path().filename().string());
  EXPECT_THAT(top,
              ::testing::IsSubsetOf({"agentcom.yaml", "supervisord.conf", "supervisord.out", "data",
                                     "backups", "state", "tokens", "logs", "supervisord.pid"}));
  EXPECT_FALSE(fs::exists(fs::path(dir_.path()).parent_path() / "agent_mailbox"));
  EXPECT_TRUE(system_->WaitServing(absl::Seconds(5)));
}

}  // namespace
}  // namespace agentcom::testing
