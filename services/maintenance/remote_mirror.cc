#include "services/maintenance/remote_mirror.h"

#include <leveldb/env.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <optional>
#include <set>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "common/files/files.h"
#include "common/logging/log.h"
#include "common/storage/backup.h"
#include "common/storage/file_backup.h"
#include "common/storage/table.h"
#include "common/storage/wal_archive.h"
#include "common/storage/wal_shipper.h"

namespace agentcom::maintenance {
namespace {

// The backup id of `key` when it names a backup's manifest at the
// destination (<table>/<backup id>/MANIFEST.json); "" otherwise.
std::string ManifestBackupId(const std::string& table, const std::string& key) {
  if (key.size() <= table.size() + 1) return "";
  const std::string rel = key.substr(table.size() + 1);
  const size_t slash = rel.find('/');
  if (slash == std::string::npos || rel.substr(slash + 1) != storage::kManifestFile) return "";
  std::string id = rel.substr(0, slash);
  return storage::IsBackupId(id) ? id : "";
}

// One upload: bytes [offset, offset + length) of `path` as `key`.
struct Upload {
  std::string path;
  uint64_t offset = 0;
  uint64_t length = 0;
  std::string key;
};

// Runs `work` over `items` on up to `parallelism` threads; returns the
// first error (every item is tried).
template <typename T>
absl::Status RunParallel(const std::vector<T>& items, int parallelism,
                         const std::function<absl::Status(const T&)>& work) {
  std::atomic<size_t> next{0};
  absl::Mutex mu;
  absl::Status first;
  auto worker = [&] {
    for (size_t i = next++; i < items.size(); i = next++) {
      absl::Status s = work(items[i]);
      if (!s.ok()) {
        absl::MutexLock l(&mu);
        if (first.ok()) first = s;
      }
    }
  };
  std::vector<std::thread> threads;
  const size_t n = std::min<size_t>(std::max(parallelism, 1), items.size());
  for (size_t i = 1; i < n; ++i) threads.emplace_back(worker);
  worker();
  for (std::thread& t : threads) t.join();
  return first;
}

// "<log key>.<offset>": the offset, or nullopt when `key` is not a segment
// of `log_key`.
std::optional<uint64_t> SegmentOffset(const std::string& key, const std::string& log_key) {
  if (!absl::StartsWith(key, log_key) || key.size() != log_key.size() + 17 ||
      key[log_key.size()] != '.') {
    return std::nullopt;
  }
  uint64_t offset = 0;
  if (!absl::SimpleAtoi(absl::string_view(key).substr(log_key.size() + 1), &offset)) {
    return std::nullopt;
  }
  return offset;
}

// One plain file name (names from the destination become local paths).
bool IsPlainName(absl::string_view name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == absl::string_view::npos;
}

// "<generation>/NNNNNN.log": a generation id ([0-9a-z]) and a log's name.
bool IsShippedLogPath(absl::string_view rel) {
  const size_t slash = rel.find('/');
  if (slash == absl::string_view::npos || slash == 0) return false;
  for (char c : rel.substr(0, slash)) {
    if (!absl::ascii_isdigit(c) && !absl::ascii_islower(c)) return false;
  }
  absl::string_view name = rel.substr(slash + 1);
  if (!absl::ConsumeSuffix(&name, ".log") || name.empty()) return false;
  for (char c : name) {
    if (!absl::ascii_isdigit(c)) return false;
  }
  return true;
}

std::string SegmentKey(const std::string& log_key, uint64_t offset) {
  return absl::StrFormat("%s.%016d", log_key, offset);
}

// A remote log: its whole object, or its segments in offset order.
struct RemoteLog {
  uint64_t whole = 0;  // size of the whole object (0: none)
  std::map<uint64_t, std::pair<std::string, uint64_t>> segments;  // offset -> key, size
  // Bytes from offset 0 the destination holds without a gap.
  uint64_t Contiguous() const {
    if (whole > 0) return whole;
    uint64_t end = 0;
    for (const auto& [offset, seg] : segments) {
      if (offset != end) break;
      end += seg.second;
    }
    return end;
  }
};

// Remote logs by log key ("<table>/wal/<generation>/NNNNNN.log").
std::map<std::string, RemoteLog> RemoteLogs(const std::map<std::string, uint64_t>& remote,
                                            const std::string& wal_prefix) {
  std::map<std::string, RemoteLog> logs;
  for (const auto& [key, size] : remote) {
    if (!absl::StartsWith(key, wal_prefix)) continue;
    if (absl::EndsWith(key, ".log")) {
      logs[key].whole = std::max<uint64_t>(size, 1);
      continue;
    }
    const size_t dot = key.rfind('.');
    if (dot == std::string::npos || !absl::EndsWith(key.substr(0, dot), ".log")) continue;
    const std::string log_key = key.substr(0, dot);
    if (auto offset = SegmentOffset(key, log_key); offset.has_value()) {
      logs[log_key].segments[*offset] = {key, size};
    }
  }
  return logs;
}

}  // namespace

RemoteMirror::RemoteMirror(Options options) : options_(std::move(options)) {
  for (const std::string& t : options_.tables) table_mu_[t] = std::make_unique<absl::Mutex>();
}

RemoteMirror::~RemoteMirror() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

absl::Mutex& RemoteMirror::TableMutex(const std::string& table) { return *table_mu_.at(table); }

void RemoteMirror::Start(absl::Duration interval) {
  thread_ = std::thread([this, interval] { Loop(interval); });
}

void RemoteMirror::Loop(absl::Duration interval) {
  storage::SetThisThreadNice(storage::kBackgroundNice);
  while (true) {
    {
      absl::MutexLock l(&mu_);
      if (options_.clock->AwaitWithDeadline(&mu_, absl::Condition(&stopping_),
                                            options_.clock->Now() + interval)) {
        return;
      }
    }
    (void)SyncAll();  // errors are in each table's progress and logged
  }
}

absl::Status RemoteMirror::SyncAll() {
  absl::Status first;
  for (const std::string& table : options_.tables) {
    absl::Status s = Sync(table);
    if (!s.ok() && first.ok()) first = s;
  }
  return first;
}

RemoteMirror::Progress RemoteMirror::progress(const std::string& table) const {
  absl::MutexLock l(&mu_);
  auto it = progress_.find(table);
  return it == progress_.end() ? Progress{} : it->second;
}

absl::Status RemoteMirror::Sync(const std::string& table) {
  if (table_mu_.count(table) == 0) {
    return absl::NotFoundError(absl::StrCat("table ", table, " is not in the topology"));
  }
  absl::MutexLock table_lock(&TableMutex(table));
  const absl::Time start = options_.clock->Now();
  leveldb::Env* env = options_.env;
  remote::Destination* dest = options_.destination;
  uint64_t pending = 0;
  uint64_t uploaded = 0;
  uint64_t uploaded_files = 0;
  auto finish = [&](absl::Status s, std::vector<std::string> remote_backups) {
    Progress now;
    absl::Cleanup report = [&] {
      if (options_.on_round) options_.on_round(table, now, uploaded);
    };
    absl::MutexLock l(&mu_);
    Progress& p = progress_[table];
    p.uploaded_bytes += uploaded;
    p.uploaded_files += uploaded_files;
    if (s.ok()) {
      p.pending_bytes = 0;
      p.remote_through = start;
      p.last_error.clear();
      p.remote_backups = std::move(remote_backups);
    } else {
      p.pending_bytes = pending > uploaded ? pending - uploaded : 0;
      ++p.failures;
      p.last_error = std::string(s.message());
      log::Warn("uploading backups off this host failed",
                {{"table", table}, {"destination", dest->Describe()}, {"error", p.last_error}});
    }
    now = p;
    return s;
  };

  if (absl::Status s = dest->Prepare(); !s.ok()) return finish(s, {});
  absl::StatusOr<std::vector<remote::RemoteObject>> listed = dest->List(absl::StrCat(table, "/"));
  if (!listed.ok()) return finish(listed.status(), {});
  std::map<std::string, uint64_t> remote;
  for (const remote::RemoteObject& o : *listed) remote[o.key] = o.size;

  const std::string root = options_.backup_root;
  absl::StatusOr<std::vector<std::string>> ids = storage::ListBackups(root, table);
  if (!ids.ok()) return finish(ids.status(), {});

  std::set<std::string> local_keys;
  std::vector<Upload> files, manifests;
  std::set<std::string> queued;
  auto want = [&](const std::string& path, uint64_t size, const std::string& key,
                  std::vector<Upload>* into) {
    local_keys.insert(key);
    auto it = remote.find(key);
    if ((it != remote.end() && it->second == size) || !queued.insert(key).second) return;
    into->push_back({path, 0, size, key});
    pending += size;
  };
  std::vector<std::string> remote_backups;
  bool all_manifests_read = true;
  for (const std::string& id : *ids) {
    const std::string dir = storage::BackupPath(root, table, id);
    absl::StatusOr<common::v1::BackupManifest> manifest = storage::ReadManifest(dir);
    if (!manifest.ok()) {  // not a whole backup: nothing to copy
      all_manifests_read = false;
      continue;
    }
    for (const common::v1::BackupFile& f : manifest->files()) {
      if (f.pooled()) {
        want(absl::StrCat(storage::PoolPath(root, table), "/", f.name()), f.size_bytes(),
             absl::StrCat(table, "/", storage::kPoolDir, "/", f.name()), &files);
      } else {
        want(absl::StrCat(dir, "/", f.name()), f.size_bytes(),
             absl::StrCat(table, "/", id, "/", f.name()), &files);
      }
    }
    const std::string manifest_path = absl::StrCat(dir, "/", storage::kManifestFile);
    uint64_t size = 0;
    if (!env->GetFileSize(manifest_path, &size).ok()) continue;
    const std::string key = absl::StrCat(table, "/", id, "/", storage::kManifestFile);
    remote_backups.push_back(id);
    want(manifest_path, size, key, &manifests);
  }

  // Shipped logs, per history.
  const std::string wal_root = storage::ShippedWalRoot(root, table);
  const std::string wal_prefix = absl::StrCat(table, "/", storage::kShippedWalDir, "/");
  std::map<std::string, RemoteLog> remote_logs = RemoteLogs(remote, wal_prefix);
  std::vector<std::string> histories;
  (void)env->GetChildren(wal_root, &histories);
  std::vector<std::string> complete_logs;  // uploaded whole this round: segments go
  for (const std::string& h : histories) {
    if (h == "." || h == "..") continue;
    const std::vector<storage::WalLog> logs =
        storage::ListWalLogs(env, absl::StrCat(wal_root, "/", h), 0);
    for (size_t i = 0; i < logs.size(); ++i) {
      uint64_t size = 0;
      if (!env->GetFileSize(logs[i].path, &size).ok()) continue;
      const std::string log_key = absl::StrCat(wal_prefix, h, "/", files::Basename(logs[i].path));
      local_keys.insert(log_key);
      const RemoteLog& r = remote_logs[log_key];
      for (const auto& [offset, seg] : r.segments) local_keys.insert(seg.first);
      const bool complete = i + 1 < logs.size();  // LevelDB writes only its newest log
      if (r.whole > 0 && r.whole >= size) continue;
      if (complete) {
        files.push_back({logs[i].path, 0, size, log_key});
        pending += size;
        if (!r.segments.empty()) complete_logs.push_back(log_key);
      } else if (const uint64_t have = r.Contiguous(); size > have) {
        const std::string key = SegmentKey(log_key, have);
        local_keys.insert(key);
        files.push_back({logs[i].path, have, size - have, key});
        pending += size - have;
      }
    }
  }

  absl::Mutex count_mu;
  auto upload = [&](const Upload& u) -> absl::Status {
    absl::Status s = dest->Upload(u.path, u.offset, u.length, u.key);
    // Removed locally meanwhile (retention): the next round sees it gone.
    if (absl::IsNotFound(s)) return absl::OkStatus();
    if (s.ok()) {
      absl::MutexLock l(&count_mu);
      uploaded += u.length;
      ++uploaded_files;
    }
    return s;
  };
  // Manifests only once every file they list is there.
  if (absl::Status s = RunParallel<Upload>(files, options_.parallelism, upload); !s.ok()) {
    return finish(s, {});
  }
  if (absl::Status s = RunParallel<Upload>(manifests, options_.parallelism, upload); !s.ok()) {
    return finish(s, {});
  }

  // Segments of logs now uploaded whole.
  std::vector<std::string> doomed;
  for (const std::string& log_key : complete_logs) {
    for (const auto& [offset, seg] : remote_logs[log_key].segments) doomed.push_back(seg.first);
  }
  // What retention removed locally, only while this table's local directory
  // holds a whole backup, now also at the destination (never because the
  // local directory is gone or was emptied).
  if (!remote_backups.empty()) {
    const std::string oldest = ids->front();
    // Pool files and logs are only known to be unneeded when every backup
    // kept at the destination is one whose manifest was read here: a
    // remote-only backup newer than the oldest local one (its local copy
    // removed by hand) or an unreadable local manifest may list them.
    const std::set<std::string> local_ids(ids->begin(), ids->end());
    bool shared_files_known = all_manifests_read;
    for (const auto& [key, size] : remote) {
      const std::string id = ManifestBackupId(table, key);
      if (!id.empty() && id >= oldest && local_ids.count(id) == 0) shared_files_known = false;
    }
    std::vector<std::string> manifests_first, rest;
    for (const auto& [key, size] : remote) {
      if (local_keys.count(key) > 0) continue;
      const std::string rel = key.substr(table.size() + 1);
      const std::string first = rel.substr(0, rel.find('/'));
      if (first == storage::kPoolDir || first == storage::kShippedWalDir) {
        if (shared_files_known) rest.push_back(key);
      } else if (storage::IsBackupId(first) && first < oldest) {
        (absl::EndsWith(key, storage::kManifestFile) ? manifests_first : rest).push_back(key);
      }
    }
    doomed.insert(doomed.end(), manifests_first.begin(), manifests_first.end());
    doomed.insert(doomed.end(), rest.begin(), rest.end());
    // Backups and their manifests go first, then their files.
    std::stable_partition(doomed.begin(), doomed.end(), [](const std::string& k) {
      return absl::EndsWith(k, storage::kManifestFile);
    });
  }
  for (const std::string& key : doomed) {
    if (absl::Status s = dest->Delete(key); !s.ok()) return finish(s, {});
  }
  // Every backup the destination now has, remote-only ones too.
  std::set<std::string> at_destination(remote_backups.begin(), remote_backups.end());
  const std::set<std::string> deleted(doomed.begin(), doomed.end());
  for (const auto& [key, size] : remote) {
    if (deleted.count(key) > 0) continue;
    if (std::string id = ManifestBackupId(table, key); !id.empty()) at_destination.insert(id);
  }
  remote_backups.assign(at_destination.begin(), at_destination.end());
  if (ids->empty() && !remote_backups.empty() && options_.on_only_remote) {
    bool first = false;
    {
      absl::MutexLock l(&mu_);
      first = reported_only_remote_.insert(table).second;
    }
    if (first) options_.on_only_remote(table);
  }
  if (!doomed.empty()) {
    log::Info("deleted remote copies that retention deleted locally",
              {{"table", table},
               {"destination", dest->Describe()},
               {"objects", static_cast<uint64_t>(doomed.size())}});
  }
  return finish(absl::OkStatus(), std::move(remote_backups));
}

absl::StatusOr<RemoteMirror::FetchReport> RemoteMirror::Fetch(const std::string& table) {
  if (table_mu_.count(table) == 0) {
    return absl::NotFoundError(absl::StrCat("table ", table, " is not in the topology"));
  }
  absl::MutexLock table_lock(&TableMutex(table));
  leveldb::Env* env = options_.env;
  remote::Destination* dest = options_.destination;
  absl::StatusOr<std::vector<remote::RemoteObject>> listed = dest->List(absl::StrCat(table, "/"));
  if (!listed.ok()) return listed.status();
  std::map<std::string, uint64_t> remote;
  for (const remote::RemoteObject& o : *listed) remote[o.key] = o.size;

  FetchReport report;
  const std::string root = options_.backup_root;
  const std::string table_root = absl::StrCat(root, "/", table);
  const std::string staging = absl::StrCat(table_root, "/", storage::kTempPrefix, "fetch");
  (void)files::RemoveTree(env, staging);  // a fetch a crash interrupted
  if (absl::Status s = files::CreateDirs(env, staging); !s.ok()) return s;
  if (absl::Status s = files::CreateDirs(env, storage::PoolPath(root, table)); !s.ok()) return s;
  auto problem = [&](const std::string& key, const absl::Status& s) {
    report.problems.push_back(absl::StrCat(key, ": ", s.message()));
    log::Warn("a remote copy could not be fetched",
              {{"table", table}, {"key", key}, {"error", std::string(s.message())}});
  };
  // Downloads `key` to `path` through the staging directory.
  auto fetch = [&](const std::string& key, const std::string& path) -> absl::Status {
    const std::string temp = absl::StrCat(staging, "/", files::Basename(path));
    if (absl::Status s = dest->Download(key, temp); !s.ok()) return s;
    report.bytes += remote[key];
    return files::RenameDurably(env, temp, path);
  };

  absl::StatusOr<std::vector<std::string>> local = storage::ListBackups(root, table);
  if (!local.ok()) return local.status();
  const std::set<std::string> have(local->begin(), local->end());
  for (const auto& [key, size] : remote) {
    const std::string id = ManifestBackupId(table, key);
    if (id.empty() || have.count(id) > 0) continue;
    // Built beside the backups and renamed into place: a backup id never
    // names a partial backup.
    const std::string temp_dir = absl::StrCat(table_root, "/", storage::kTempPrefix, id);
    (void)files::RemoveTree(env, temp_dir);
    if (absl::Status s = files::CreateDirs(env, temp_dir); !s.ok()) return s;
    const std::string manifest_path = absl::StrCat(temp_dir, "/", storage::kManifestFile);
    if (absl::Status s = dest->Download(key, manifest_path); !s.ok()) {
      problem(key, s);
      (void)files::RemoveTree(env, temp_dir);
      continue;
    }
    absl::StatusOr<common::v1::BackupManifest> manifest = storage::ReadManifest(temp_dir);
    if (manifest.ok()) {
      // Names from the destination become local paths: one plain name each.
      for (const common::v1::BackupFile& f : manifest->files()) {
        if (!IsPlainName(f.name()) || f.name() == storage::kManifestFile) {
          manifest = absl::DataLossError(absl::StrCat("bad file name '", f.name(), "'"));
          break;
        }
      }
      if (manifest.ok() && manifest->backup_id() != id) {
        manifest =
            absl::DataLossError(absl::StrCat("the manifest names backup ", manifest->backup_id()));
      }
    }
    if (!manifest.ok()) {
      problem(key, manifest.status());
      (void)files::RemoveTree(env, temp_dir);
      continue;
    }
    bool whole = true;
    for (const common::v1::BackupFile& f : manifest->files()) {
      if (f.pooled()) {
        const std::string path = absl::StrCat(storage::PoolPath(root, table), "/", f.name());
        uint64_t size = 0;
        if (env->GetFileSize(path, &size).ok() && size == f.size_bytes()) continue;
        const std::string pool_key = absl::StrCat(table, "/", storage::kPoolDir, "/", f.name());
        if (absl::Status s = fetch(pool_key, path); !s.ok()) {
          // The backup still comes: its check at restore rejects it, or
          // finds an identical copy in the damaged table.
          problem(pool_key, s);
          continue;
        }
        ++report.pool_files;
      } else {
        const std::string file_key = absl::StrCat(table, "/", id, "/", f.name());
        if (absl::Status s = dest->Download(file_key, absl::StrCat(temp_dir, "/", f.name()));
            !s.ok()) {
          problem(file_key, s);
          whole = false;
          break;
        }
        report.bytes += f.size_bytes();
      }
    }
    if (!whole) {
      (void)files::RemoveTree(env, temp_dir);
      continue;
    }
    if (absl::Status s = files::SyncDirectory(temp_dir); !s.ok()) return s;
    if (absl::Status s = files::RenameDurably(env, temp_dir, storage::BackupPath(root, table, id));
        !s.ok()) {
      return s;
    }
    ++report.backups;
  }

  // Shipped logs the destination holds more of.
  const std::string wal_prefix = absl::StrCat(table, "/", storage::kShippedWalDir, "/");
  for (const auto& [log_key, r] : RemoteLogs(remote, wal_prefix)) {
    const std::string rel = log_key.substr(wal_prefix.size());  // <generation>/NNNNNN.log
    if (!IsShippedLogPath(rel)) {
      problem(log_key, absl::DataLossError("not a shipped log's name"));
      continue;
    }
    const std::string path = absl::StrCat(storage::ShippedWalRoot(root, table), "/", rel);
    uint64_t local_size = 0;
    (void)env->GetFileSize(path, &local_size);
    if (r.Contiguous() <= local_size) continue;
    if (absl::Status s = files::CreateDirs(env, files::Parent(path)); !s.ok()) return s;
    if (r.whole > 0) {
      if (absl::Status s = fetch(log_key, path); !s.ok()) {
        problem(log_key, s);
        continue;
      }
    } else {
      // Segments, joined in offset order up to the first gap.
      const std::string joined = absl::StrCat(staging, "/", files::Basename(path));
      std::string bytes;
      absl::Status failed;
      for (const auto& [offset, seg] : r.segments) {
        if (offset != bytes.size()) break;
        const std::string part = absl::StrCat(staging, "/segment");
        if (failed = dest->Download(seg.first, part); !failed.ok()) break;
        absl::StatusOr<std::string> data = files::ReadFile(env, part);
        if (!data.ok()) {
          failed = data.status();
          break;
        }
        bytes += *data;
      }
      if (!failed.ok() && bytes.size() <= local_size) {
        problem(log_key, failed);
        continue;
      }
      if (absl::Status s = files::WriteFileAtomically(env, joined, bytes); !s.ok()) return s;
      if (absl::Status s = files::RenameDurably(env, joined, path); !s.ok()) return s;
      report.bytes += bytes.size();
    }
    ++report.logs;
  }
  (void)files::RemoveTree(env, staging);
  log::Info("fetched backups from off this host", {{"table", table},
                                                   {"destination", dest->Describe()},
                                                   {"backups", report.backups},
                                                   {"pool_files", report.pool_files},
                                                   {"logs", report.logs},
                                                   {"bytes", report.bytes}});
  return report;
}

}  // namespace agentcom::maintenance
