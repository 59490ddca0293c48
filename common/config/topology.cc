#include "common/config/topology.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/config/yaml_proto.h"

namespace agentcom::config {
namespace {

namespace fs = std::filesystem;

absl::Status Invalid(absl::string_view key, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(key, ": ", what));
}

bool IsName(absl::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_')) {
      return false;
    }
  }
  return true;
}

absl::Status CheckAddress(absl::string_view key, absl::string_view address) {
  if (address.empty()) return Invalid(key, "required (host:port)");
  size_t colon = address.rfind(':');
  uint32_t port;
  if (colon == absl::string_view::npos || colon == 0 ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port) || port > 65535) {
    return Invalid(key, absl::StrCat("'", address, "' is not host:port"));
  }
  return absl::OkStatus();
}

absl::Status ResolvePath(absl::string_view key, std::string* path, absl::string_view base_dir,
                         bool required) {
  if (path->empty()) {
    return required ? Invalid(key, "required (a directory path)") : absl::OkStatus();
  }
  fs::path p(*path);
  if (p.is_relative()) p = fs::path(std::string(base_dir)) / p;
  *path = p.lexically_normal().string();
  return absl::OkStatus();
}

absl::Status CheckRange(absl::string_view key, uint32_t value, uint32_t lo, uint32_t hi) {
  if (value < lo || value > hi) {
    return Invalid(key, absl::StrCat(value, " is outside ", lo, "..", hi));
  }
  return absl::OkStatus();
}

absl::Status ValidateRemoteBackup(topology::v1::RemoteBackup* r, absl::string_view base_dir) {
  constexpr char kKey[] = "maintenance.remote_backup";
  auto key = [&](absl::string_view field) { return absl::StrCat(kKey, ".", field); };
  if (r->kind() == "directory") {
    if (auto s = ResolvePath(key("directory"), r->mutable_directory(), base_dir, true); !s.ok()) {
      return s;
    }
  } else if (r->kind() == "s3") {
    const bool https = absl::StartsWith(r->endpoint(), "https://");
    if (!https && !absl::StartsWith(r->endpoint(), "http://")) {
      return Invalid(key("endpoint"), absl::StrCat("'", r->endpoint(), "' is not an http(s) URL"));
    }
    if (!https && !r->allow_plain_http()) {
      return Invalid(key("endpoint"),
                     "plain http sends backups unencrypted; use https, or set allow_plain_http");
    }
    if (r->bucket().empty()) return Invalid(key("bucket"), "required");
    if (auto s =
            ResolvePath(key("credentials_file"), r->mutable_credentials_file(), base_dir, true);
        !s.ok()) {
      return s;
    }
    if (auto s = ResolvePath(key("ca_file"), r->mutable_ca_file(), base_dir, false); !s.ok()) {
      return s;
    }
  } else {
    return Invalid(key("kind"), absl::StrCat("'", r->kind(), "' is not s3 or directory"));
  }
  for (char c : r->prefix()) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-' &&
        c != '/') {
      return Invalid(key("prefix"), absl::StrCat("'", r->prefix(), "' has characters other than ",
                                                 "[A-Za-z0-9._/-]"));
    }
  }
  if (!r->prefix().empty()) {
    for (absl::string_view part : absl::StrSplit(r->prefix(), '/')) {
      if (part.empty() || part == "." || part == "..") {
        return Invalid(key("prefix"),
                       absl::StrCat("'", r->prefix(), "' has an empty, '.' or '..' component"));
      }
    }
  }
  if (auto s = CheckRange(key("upload_interval_seconds"), r->upload_interval_seconds(), 1, 3600);
      !s.ok()) {
    return s;
  }
  if (auto s = CheckRange(key("max_lag_seconds"), r->max_lag_seconds(), 1, 30 * 86400); !s.ok()) {
    return s;
  }
  if (auto s = CheckRange(key("parallelism"), r->parallelism(), 1, 32); !s.ok()) return s;
  if (auto s = CheckRange(key("request_timeout_seconds"), r->request_timeout_seconds(), 1, 3600);
      !s.ok()) {
    return s;
  }
  return CheckRange(key("attempts"), r->attempts(), 1, 20);
}

absl::Status CheckStorage(absl::string_view key, const StorageSettings& s) {
  if (s.has_flush_interval_ms()) {
    auto st = CheckRange(absl::StrCat(key, ".flush_interval_ms"), s.flush_interval_ms(), 1, 10000);
    if (!st.ok()) return st;
  }
  if (s.has_block_cache_mb()) {
    auto st = CheckRange(absl::StrCat(key, ".block_cache_mb"), s.block_cache_mb(), 1, 4096);
    if (!st.ok()) return st;
  }
  if (s.has_write_buffer_mb()) {
    auto st = CheckRange(absl::StrCat(key, ".write_buffer_mb"), s.write_buffer_mb(), 1, 1024);
    if (!st.ok()) return st;
  }
  if (s.has_wal_ship_interval_ms() && s.wal_ship_interval_ms() != 0) {
    auto st = CheckRange(absl::StrCat(key, ".wal_ship_interval_ms"), s.wal_ship_interval_ms(), 10,
                         600000);
    if (!st.ok()) return st;
  }
  if (s.has_max_open_files()) {
    auto st = CheckRange(absl::StrCat(key, ".max_open_files"), s.max_open_files(), 20, 50000);
    if (!st.ok()) return st;
  }
  return absl::OkStatus();
}

void ApplyDefaults(Topology* t) {
  StorageSettings* s = t->mutable_storage();
  if (!s->has_durability()) s->set_durability(common::v1::DURABILITY_SYNC);
  if (!s->has_flush_interval_ms()) s->set_flush_interval_ms(kDefaultFlushIntervalMs);
  if (!s->has_block_cache_mb()) s->set_block_cache_mb(kDefaultBlockCacheMb);
  if (!s->has_write_buffer_mb()) s->set_write_buffer_mb(kDefaultWriteBufferMb);
  if (!s->has_max_open_files()) s->set_max_open_files(kDefaultMaxOpenFiles);
  if (!s->has_wal_ship_interval_ms()) s->set_wal_ship_interval_ms(kDefaultWalShipIntervalMs);
  auto* l = t->mutable_limits();
  if (!l->has_max_body_bytes()) l->set_max_body_bytes(kDefaultMaxBodyBytes);
  if (!l->has_max_id_bytes()) l->set_max_id_bytes(kDefaultMaxIdBytes);
  if (!l->has_max_watchers()) l->set_max_watchers(10000);
  if (!l->has_max_watchers_per_owner()) l->set_max_watchers_per_owner(16);
  if (!l->has_max_request_bytes()) {
    l->set_max_request_bytes(l->max_body_bytes() + 64 * 1024);
  }
  auto* tokens = t->mutable_tokens();
  if (tokens->agent_token_file().empty()) tokens->set_agent_token_file("tokens/agent.token");
  if (tokens->admin_token_file().empty()) tokens->set_admin_token_file("tokens/admin.token");
  if (t->log_level().empty()) t->set_log_level("info");
  auto* m = t->mutable_maintenance();
  if (!m->has_backup_interval_seconds()) m->set_backup_interval_seconds(3600);
  if (!m->has_compaction_interval_seconds()) m->set_compaction_interval_seconds(21600);
  if (!m->has_first_run_delay_seconds()) m->set_first_run_delay_seconds(300);
  if (!m->has_backup_retention()) m->set_backup_retention(48);
  if (!m->has_compaction_threshold()) m->set_compaction_threshold(0.10);
  if (!m->has_store_start_timeout_seconds()) m->set_store_start_timeout_seconds(60);
  if (!m->has_scrub_interval_seconds()) m->set_scrub_interval_seconds(86400);
  if (m->has_remote_backup()) {
    auto* r = m->mutable_remote_backup();
    if (r->region().empty()) r->set_region("us-east-1");
    if (!r->has_upload_interval_seconds()) r->set_upload_interval_seconds(5);
    if (!r->has_max_lag_seconds()) r->set_max_lag_seconds(300);
    if (!r->has_parallelism()) r->set_parallelism(4);
    if (!r->has_request_timeout_seconds()) r->set_request_timeout_seconds(30);
    if (!r->has_attempts()) r->set_attempts(4);
  }
  auto* g = t->mutable_gateway();
  if (g->address().empty()) g->set_address("127.0.0.1:8080");
  if (g->metrics_address().empty()) g->set_metrics_address("127.0.0.1:9407");
  if (!g->has_max_body_bytes()) g->set_max_body_bytes(65536);
  if (!g->has_idle_timeout_seconds()) g->set_idle_timeout_seconds(30);
  auto* sup = t->mutable_supervisor();
  if (sup->address().empty()) sup->set_address("127.0.0.1:9001");
  if (sup->username().empty()) sup->set_username("agentcom");
  if (sup->password_file().empty()) sup->set_password_file("tokens/supervisor.password");
}

absl::Status Validate(Topology* t, absl::string_view base_dir) {
  for (auto [key, path] : {std::pair{"data_dir", t->mutable_data_dir()},
                           std::pair{"backup_dir", t->mutable_backup_dir()},
                           std::pair{"state_dir", t->mutable_state_dir()}}) {
    if (auto s = ResolvePath(key, path, base_dir, true); !s.ok()) return s;
  }
  if (auto s = ResolvePath("tokens.agent_token_file",
                           t->mutable_tokens()->mutable_agent_token_file(), base_dir, true);
      !s.ok()) {
    return s;
  }
  if (auto s = ResolvePath("tokens.admin_token_file",
                           t->mutable_tokens()->mutable_admin_token_file(), base_dir, true);
      !s.ok()) {
    return s;
  }
  if (auto s = ResolvePath("supervisor.password_file",
                           t->mutable_supervisor()->mutable_password_file(), base_dir, true);
      !s.ok()) {
    return s;
  }
  if (auto s = CheckAddress("supervisor.address", t->supervisor().address()); !s.ok()) {
    return s;
  }
  if (auto s = CheckAddress("gateway.address", t->gateway().address()); !s.ok()) return s;
  if (auto s = CheckAddress("gateway.metrics_address", t->gateway().metrics_address()); !s.ok()) {
    return s;
  }
  if (auto s = ResolvePath("gateway.static_dir", t->mutable_gateway()->mutable_static_dir(),
                           base_dir, false);
      !s.ok()) {
    return s;
  }
  if (auto s = CheckRange("gateway.max_body_bytes", t->gateway().max_body_bytes(), 1024, 16 << 20);
      !s.ok()) {
    return s;
  }
  if (auto s =
          CheckRange("gateway.idle_timeout_seconds", t->gateway().idle_timeout_seconds(), 1, 3600);
      !s.ok()) {
    return s;
  }
  if (t->tokens().agent_token_file() == t->tokens().admin_token_file()) {
    return Invalid("tokens", "agent and admin tokens must be different files");
  }
  static const std::set<std::string> kLevels = {"debug", "info", "warn", "error", "critical"};
  if (!kLevels.count(t->log_level())) {
    return Invalid("log_level", absl::StrCat("'", t->log_level(),
                                             "' is not debug, info, warn, "
                                             "error or critical"));
  }
  if (auto s = CheckStorage("storage", t->storage()); !s.ok()) return s;
  if (auto s = CheckRange("limits.max_body_bytes", t->limits().max_body_bytes(), 1, 64 << 20);
      !s.ok()) {
    return s;
  }
  if (auto s = CheckRange("limits.max_id_bytes", t->limits().max_id_bytes(), 8, 1024); !s.ok()) {
    return s;
  }
  if (auto s = CheckRange("limits.max_watchers", t->limits().max_watchers(), 1, 1000000); !s.ok()) {
    return s;
  }
  if (auto s = CheckRange("limits.max_watchers_per_owner", t->limits().max_watchers_per_owner(), 1,
                          10000);
      !s.ok()) {
    return s;
  }
  if (auto s = CheckRange("limits.max_request_bytes", t->limits().max_request_bytes(),
                          t->limits().max_body_bytes(), 128 << 20);
      !s.ok()) {
    return s;
  }
  if (auto s = CheckAddress("maintenance.address", t->maintenance().address()); !s.ok()) {
    return s;
  }
  if (auto s = CheckAddress("maintenance.metrics_address", t->maintenance().metrics_address());
      !s.ok()) {
    return s;
  }

  const auto& m = t->maintenance();
  if (auto s = CheckRange("maintenance.backup_interval_seconds", m.backup_interval_seconds(), 60,
                          30 * 86400);
      !s.ok()) {
    return s;
  }
  if (auto s = CheckRange("maintenance.scrub_interval_seconds", m.scrub_interval_seconds(), 60,
                          30 * 86400);
      !s.ok()) {
    return s;
  }
  if (auto s = CheckRange("maintenance.compaction_interval_seconds",
                          m.compaction_interval_seconds(), 60, 30 * 86400);
      !s.ok()) {
    return s;
  }
  if (auto s = CheckRange("maintenance.first_run_delay_seconds", m.first_run_delay_seconds(), 0,
                          30 * 86400);
      !s.ok()) {
    return s;
  }
  if (auto s = CheckRange("maintenance.backup_retention", m.backup_retention(), 1, 1000); !s.ok()) {
    return s;
  }
  if (auto s = CheckRange("maintenance.store_start_timeout_seconds",
                          m.store_start_timeout_seconds(), 1, 3600);
      !s.ok()) {
    return s;
  }
  if (!(m.compaction_threshold() >= 0 && m.compaction_threshold() <= 1)) {
    return Invalid("maintenance.compaction_threshold",
                   absl::StrCat(m.compaction_threshold(), " is outside 0..1"));
  }
  if (m.has_remote_backup()) {
    if (auto s = ValidateRemoteBackup(t->mutable_maintenance()->mutable_remote_backup(), base_dir);
        !s.ok()) {
      return s;
    }
  }
  for (int i = 0; i < m.webhook_urls_size(); ++i) {
    const std::string& url = m.webhook_urls(i);
    if (!absl::StartsWith(url, "http://") && !absl::StartsWith(url, "https://")) {
      return Invalid(absl::StrCat("maintenance.webhook_urls[", i, "]"),
                     absl::StrCat("'", url, "' is not an http(s) URL"));
    }
  }
  if (t->stores().empty()) return Invalid("stores", "at least one store is required");
  std::set<std::string> store_names, table_names;
  std::set<std::string> addresses = {t->maintenance().address(), t->maintenance().metrics_address(),
                                     t->supervisor().address(), t->gateway().address(),
                                     t->gateway().metrics_address()};
  for (int i = 0; i < t->stores_size(); ++i) {
    const StoreSpec& store = t->stores(i);
    const std::string key = absl::StrCat("stores[", i, "]");
    if (!IsName(store.name())) {
      return Invalid(absl::StrCat(key, ".name"),
                     absl::StrCat("'", store.name(), "' must be 1-64 of [a-z0-9_]"));
    }
    if (store.kind().empty()) t->mutable_stores(i)->set_kind(store.name());
    if (!IsName(store.kind())) {
      return Invalid(absl::StrCat(key, ".kind"),
                     absl::StrCat("'", store.kind(), "' must be 1-64 of [a-z0-9_]"));
    }
    if (!store_names.insert(store.name()).second) {
      return Invalid(absl::StrCat(key, ".name"),
                     absl::StrCat("duplicate store '", store.name(), "'"));
    }
    for (auto [field, address] : {std::pair{"address", &store.address()},
                                  std::pair{"metrics_address", &store.metrics_address()}}) {
      const std::string akey = absl::StrCat(key, ".", field);
      if (auto s = CheckAddress(akey, *address); !s.ok()) return s;
      // Port 0 lets the OS pick a free port, so only fixed ports can collide.
      if (!absl::EndsWith(*address, ":0") && !addresses.insert(*address).second) {
        return Invalid(akey, absl::StrCat("'", *address, "' is used twice"));
      }
    }
    if (store.tables().empty()) {
      return Invalid(absl::StrCat(key, ".tables"), "at least one table is required");
    }
    for (int j = 0; j < store.tables_size(); ++j) {
      const TableSpec& table = store.tables(j);
      const std::string tkey = absl::StrCat(key, ".tables[", j, "]");
      if (!IsName(table.name()) || table.name() == "quarantine") {
        return Invalid(absl::StrCat(tkey, ".name"),
                       absl::StrCat("'", table.name(),
                                    "' must be 1-64 of [a-z0-9_] and not "
                                    "'quarantine'"));
      }
      if (!table_names.insert(table.name()).second) {
        return Invalid(absl::StrCat(tkey, ".name"),
                       absl::StrCat("duplicate table '", table.name(), "'"));
      }
      if (auto s = CheckStorage(absl::StrCat(tkey, ".storage"), table.storage()); !s.ok()) {
        return s;
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Topology> ParseTopology(absl::string_view yaml, absl::string_view base_dir) {
  Topology t;
  if (auto s = ParseYamlToProto(yaml, &t); !s.ok()) return s;
  ApplyDefaults(&t);
  if (auto s = Validate(&t, base_dir); !s.ok()) return s;
  return t;
}

absl::StatusOr<Topology> LoadTopology(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("topology file ", path, ": cannot be read"));
  }
  std::stringstream text;
  text << in.rdbuf();
  fs::path dir = fs::absolute(fs::path(path)).parent_path();
  absl::StatusOr<Topology> t = ParseTopology(text.str(), dir.string());
  if (!t.ok()) {
    return absl::Status(t.status().code(), absl::StrCat(path, ": ", t.status().message()));
  }
  return t;
}

absl::StatusOr<const StoreSpec*> FindStore(const Topology& topology, absl::string_view name) {
  for (const StoreSpec& store : topology.stores()) {
    if (store.name() == name) return &store;
  }
  return absl::NotFoundError(absl::StrCat("store ", name, " is not in the topology"));
}

absl::StatusOr<const StoreSpec*> FindStoreOfTable(const Topology& topology,
                                                  absl::string_view table) {
  for (const StoreSpec& store : topology.stores()) {
    for (const TableSpec& t : store.tables()) {
      if (t.name() == table) return &store;
    }
  }
  return absl::NotFoundError(absl::StrCat("table ", table));
}

std::string FlagOrEnv(const std::string& flag, const char* env, const std::string& fallback) {
  if (!flag.empty()) return flag;
  if (const char* v = std::getenv(env); v != nullptr && *v != '\0') return v;
  return fallback;
}

StorageSettings EffectiveStorage(const Topology& topology, const TableSpec& table) {
  StorageSettings s = topology.storage();
  s.MergeFrom(table.storage());
  return s;
}

}  // namespace agentcom::config
