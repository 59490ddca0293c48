// Topology parsing (issue 2, item 3): the shipped file parses; bad files are
// clear start-up errors naming the key.
#include "common/config/topology.h"

#include <fstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_support.h"

namespace agentcom::config {
namespace {

using ::testing::HasSubstr;

constexpr char kMinimal[] = R"(
data_dir: data
backup_dir: /var/backups/agentcom
state_dir: state
maintenance: {address: 127.0.0.1:7400, metrics_address: 127.0.0.1:9400}
stores:
  - name: mailbox
    address: 127.0.0.1:7401
    metrics_address: 127.0.0.1:9401
    tables:
      - name: agent_mailbox
        storage: {durability: buffered, block_cache_mb: 16}
)";

absl::Status ErrorOf(const std::string& yaml) {
  return ParseTopology(yaml, "/srv/agentcom").status();
}

TEST(TopologyTest, ShippedFileParses) {
  auto t = LoadTopology(std::string(AGENTCOM_SOURCE_DIR) + "/deploy/agentcom.yaml");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_GE(t->stores_size(), 2);
  EXPECT_TRUE(FindStoreOfTable(*t, "agent_mailbox").ok());
  EXPECT_TRUE(FindStoreOfTable(*t, "agentcom_config").ok());
}

TEST(TopologyTest, ContainerTopologyParses) {
  auto t = LoadTopology(std::string(AGENTCOM_SOURCE_DIR) + "/deploy/docker/agentcom.yaml");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->data_dir(), "/var/lib/agentcom/data");
  EXPECT_EQ(t->gateway().address(), "0.0.0.0:8080");
  EXPECT_EQ(t->stores_size(), 6);
}

TEST(TopologyTest, ResolvesPathsAndAppliesDefaults) {
  auto t = ParseTopology(kMinimal, "/srv/agentcom");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->data_dir(), "/srv/agentcom/data");
  EXPECT_EQ(t->backup_dir(), "/var/backups/agentcom");
  EXPECT_EQ(t->tokens().admin_token_file(), "/srv/agentcom/tokens/admin.token");
  EXPECT_EQ(t->storage().durability(), common::v1::DURABILITY_SYNC);
  EXPECT_EQ(t->limits().max_body_bytes(), kDefaultMaxBodyBytes);
  EXPECT_EQ(t->stores(0).kind(), "mailbox");

  StorageSettings s = EffectiveStorage(*t, t->stores(0).tables(0));
  EXPECT_EQ(s.durability(), common::v1::DURABILITY_BUFFERED);
  EXPECT_EQ(s.block_cache_mb(), 16u);
  EXPECT_EQ(s.write_buffer_mb(), kDefaultWriteBufferMb);
}

TEST(TopologyTest, UnknownKeyIsNamedWithItsPath) {
  std::string yaml = kMinimal;
  yaml.replace(yaml.find("- name: agent_mailbox"), 21, "- nmae: agent_mailbox");
  absl::Status s = ErrorOf(yaml);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("stores[0].tables[0].nmae: unknown key"));
}

TEST(TopologyTest, WrongTypesAndValuesAreNamed) {
  std::string yaml = kMinimal;
  yaml.replace(yaml.find("block_cache_mb: 16"), 18, "block_cache_mb: lots");
  EXPECT_THAT(ErrorOf(yaml).message(),
              HasSubstr("stores[0].tables[0].storage.block_cache_mb: 'lots' is not a valid"));

  yaml = kMinimal;
  yaml.replace(yaml.find("durability: buffered"), 20, "durability: eventually");
  EXPECT_THAT(ErrorOf(yaml).message(),
              HasSubstr("durability: 'eventually' is not one of DURABILITY_SYNC"));

  yaml = kMinimal;
  yaml.replace(yaml.find("block_cache_mb: 16"), 18, "block_cache_mb: 99999");
  EXPECT_THAT(ErrorOf(yaml).message(),
              HasSubstr("stores[0].tables[0].storage.block_cache_mb: 99999 is outside 1..4096"));

  yaml = kMinimal;
  yaml.replace(yaml.find("address: 127.0.0.1:7401"), 23, "address: localhost");
  EXPECT_THAT(ErrorOf(yaml).message(),
              HasSubstr("stores[0].address: 'localhost' is not host:port"));
}

TEST(TopologyTest, StructuralErrors) {
  EXPECT_THAT(ErrorOf("").message(), HasSubstr("empty"));
  EXPECT_THAT(ErrorOf("data_dir: [1, 2").message(), HasSubstr("not valid YAML: line"));
  EXPECT_THAT(ErrorOf("- just\n- a list\n").message(),
              HasSubstr("<top level>: expected a mapping"));

  std::string no_data = kMinimal;
  no_data.replace(no_data.find("data_dir: data"), 14, "");
  EXPECT_THAT(ErrorOf(no_data).message(), HasSubstr("data_dir: required"));

  std::string dup = std::string(kMinimal) +
                    "  - name: other\n    address: 127.0.0.1:7402\n"
                    "    metrics_address: 127.0.0.1:9402\n"
                    "    tables:\n      - name: agent_mailbox\n";
  EXPECT_THAT(ErrorOf(dup).message(),
              HasSubstr("stores[1].tables[0].name: duplicate table 'agent_mailbox'"));

  std::string same_port = std::string(kMinimal) +
                          "  - name: other\n    address: 127.0.0.1:7401\n"
                          "    metrics_address: 127.0.0.1:9402\n"
                          "    tables:\n      - name: other_table\n";
  EXPECT_THAT(ErrorOf(same_port).message(),
              HasSubstr("stores[1].address: '127.0.0.1:7401' is used twice"));

  std::string bad_name = kMinimal;
  bad_name.replace(bad_name.find("- name: agent_mailbox"), 21, "- name: ../etc");
  EXPECT_THAT(ErrorOf(bad_name).message(),
              HasSubstr("stores[0].tables[0].name: '../etc' must be 1-64 of [a-z0-9_]"));
}

std::string WithRemote(const std::string& remote) {
  std::string yaml = kMinimal;
  const std::string at = "maintenance: {address: 127.0.0.1:7400, metrics_address: 127.0.0.1:9400";
  yaml.replace(yaml.find(at), at.size(), absl::StrCat(at, ", remote_backup: {", remote, "}"));
  return yaml;
}

TEST(TopologyTest, RemoteBackupIsCheckedAndGetsDefaults) {
  auto t = ParseTopology(WithRemote("kind: s3, endpoint: 'https://objects:8443', bucket: b, "
                                    "credentials_file: tokens/s3"),
                         "/srv/agentcom");
  ASSERT_TRUE(t.ok()) << t.status();
  const auto& r = t->maintenance().remote_backup();
  EXPECT_EQ(r.credentials_file(), "/srv/agentcom/tokens/s3");
  EXPECT_EQ(r.region(), "us-east-1");
  EXPECT_EQ(r.upload_interval_seconds(), 5u);
  EXPECT_EQ(r.max_lag_seconds(), 300u);
  EXPECT_EQ(r.parallelism(), 4u);
  EXPECT_THAT(ErrorOf(WithRemote("kind: ftp")).message(),
              HasSubstr("maintenance.remote_backup.kind: 'ftp' is not s3 or directory"));
  EXPECT_THAT(ErrorOf(WithRemote("kind: s3, endpoint: 'http://objects', bucket: b, "
                                 "credentials_file: c"))
                  .message(),
              HasSubstr("plain http sends backups unencrypted"));
  EXPECT_TRUE(ErrorOf(WithRemote("kind: s3, endpoint: 'http://objects', bucket: b, "
                                 "credentials_file: c, allow_plain_http: true"))
                  .ok());
  EXPECT_THAT(ErrorOf(WithRemote("kind: s3, endpoint: 'https://o', credentials_file: c")).message(),
              HasSubstr("maintenance.remote_backup.bucket: required"));
  EXPECT_THAT(ErrorOf(WithRemote("kind: s3, endpoint: 'https://o', bucket: b")).message(),
              HasSubstr("maintenance.remote_backup.credentials_file: required"));
  EXPECT_THAT(ErrorOf(WithRemote("kind: directory, directory: /mnt/x, prefix: 'x y'")).message(),
              HasSubstr("maintenance.remote_backup.prefix: 'x y' has characters other than"));
  EXPECT_THAT(ErrorOf(WithRemote("kind: directory, directory: /mnt/x, prefix: '../x'")).message(),
              HasSubstr("maintenance.remote_backup.prefix: '../x' has an empty, '.' or '..'"));
  EXPECT_THAT(ErrorOf(WithRemote("kind: directory, directory: /mnt/x, parallelism: 99")).message(),
              HasSubstr("maintenance.remote_backup.parallelism: 99 is outside 1..32"));
}

TEST(TopologyTest, LoadNamesTheFile) {
  testing::TempDir dir;
  const std::string path = dir.Sub("bad.yaml");
  std::ofstream(path) << "stores: 3\n";
  auto t = LoadTopology(path);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(t.status().message(), HasSubstr(path + ": stores: expected a list"));
  EXPECT_EQ(LoadTopology(dir.Sub("missing.yaml")).status().code(), absl::StatusCode::kNotFound);
}

TEST(TopologyTest, FindHelpers) {
  auto t = ParseTopology(kMinimal, "/srv");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ((*FindStoreOfTable(*t, "agent_mailbox"))->name(), "mailbox");
  auto missing = FindStoreOfTable(*t, "nope");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("table nope"));
}

}  // namespace
}  // namespace agentcom::config
