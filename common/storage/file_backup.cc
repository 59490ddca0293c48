#include "common/storage/file_backup.h"

#include <leveldb/db.h>
#include <leveldb/env.h>
#include <leveldb/options.h>
#include <leveldb/table.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/fault/fault.h"
#include "common/files/files.h"
#include "common/logging/log.h"
#include "common/storage/backup.h"
#include "common/storage/format.h"
#include "common/storage/wal.h"

namespace agentcom::storage {
namespace {

using common::v1::BackupManifest;

constexpr size_t kCopyChunk = 1 << 20;

bool IsTableFile(absl::string_view name) {
  return absl::EndsWith(name, ".ldb") || absl::EndsWith(name, ".sst");
}

// A name a manifest may use: one plain file name.
bool IsPlainName(absl::string_view name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == absl::string_view::npos;
}

std::string SourcePath(const std::string& backup_dir, const common::v1::BackupFile& file) {
  if (!file.pooled()) return absl::StrCat(backup_dir, "/", file.name());
  return absl::StrCat(files::Parent(backup_dir), "/", kPoolDir, "/", file.name());
}

// Pool names and checksums the newest readable backup of the table lists,
// so an incremental backup need not read files it shares.
std::map<std::string, std::string> KnownPoolChecksums(const std::string& backup_root,
                                                      const std::string& table) {
  std::map<std::string, std::string> known;
  auto ids = ListBackups(backup_root, table);
  if (!ids.ok()) return known;
  for (auto it = ids->rbegin(); it != ids->rend(); ++it) {
    auto manifest = ReadManifest(BackupPath(backup_root, table, *it));
    if (!manifest.ok()) continue;
    for (const auto& f : manifest->files()) {
      if (f.pooled()) known[f.name()] = f.sha256();
    }
    break;
  }
  return known;
}

// Copies one live table file into the pool unless it is there already.
// Sets `file` and adds the bytes copied to `copied`.
absl::Status PoolTableFile(leveldb::Env* env, const std::string& pool, const FileBackupSource& src,
                           const LiveFiles::File& live,
                           const std::map<std::string, std::string>& known,
                           common::v1::BackupFile* file, uint64_t* copied) {
  const std::string name = absl::StrCat(src.generation, "-", live.size, "-", live.name);
  const std::string path = absl::StrCat(pool, "/", name);
  file->set_name(name);
  file->set_restore_name(live.name);
  file->set_size_bytes(live.size);
  file->set_pooled(true);
  uint64_t pooled_size = 0;
  if (env->GetFileSize(path, &pooled_size).ok() && pooled_size == live.size) {
    if (auto it = known.find(name); it != known.end()) {
      file->set_sha256(it->second);
      return absl::OkStatus();
    }
    absl::StatusOr<std::string> sha = internal::FileSha256(env, path, &pooled_size);
    if (!sha.ok()) return sha.status();
    file->set_sha256(*sha);
    return absl::OkStatus();
  }
  // Named by size as well: a file of the same number but another size
  // cannot exist in one generation, but a torn copy is never taken for it.
  const std::string temp = absl::StrCat(pool, "/", kTempPrefix, name);
  (void)env->RemoveFile(temp);
  absl::StatusOr<std::string> sha =
      internal::CopyFilePrefix(env, absl::StrCat(src.dir, "/", live.name), temp, live.size);
  if (sha.ok()) {
    absl::Status checked = internal::ForEachTableEntry(
        env, temp, live.size,
        [](absl::string_view, absl::string_view) { return absl::OkStatus(); });
    if (!checked.ok()) {
      sha = absl::DataLossError(absl::StrCat("table file ", live.name, " of ", src.table,
                                             " is damaged; not backed up: ", checked.message()));
    }
  }
  if (!sha.ok()) {
    (void)env->RemoveFile(temp);
    return sha.status();
  }
  if (auto s = files::RenameDurably(env, temp, path); !s.ok()) return s;
  file->set_sha256(*sha);
  file->set_copied(true);
  *copied += live.size;
  return absl::OkStatus();
}

// Copies one file the backup keeps in its own directory.
absl::Status CopyOwnFile(leveldb::Env* env, const std::string& from, const std::string& backup_dir,
                         const std::string& name, uint64_t size, BackupManifest* manifest) {
  absl::StatusOr<std::string> sha =
      internal::CopyFilePrefix(env, from, absl::StrCat(backup_dir, "/", name), size);
  if (!sha.ok()) return sha.status();
  auto* f = manifest->add_files();
  f->set_name(name);
  f->set_restore_name(name);
  f->set_size_bytes(size);
  f->set_sha256(*sha);
  f->set_copied(true);
  manifest->set_new_bytes(manifest->new_bytes() + size);
  return absl::OkStatus();
}

}  // namespace

std::string PoolPath(const std::string& backup_root, const std::string& table) {
  return absl::StrCat(backup_root, "/", table, "/", kPoolDir);
}

namespace internal {

absl::StatusOr<std::string> CopyFilePrefix(leveldb::Env* env, const std::string& from,
                                           const std::string& to, uint64_t size, bool sync) {
  leveldb::SequentialFile* in_raw = nullptr;
  leveldb::Status s = env->NewSequentialFile(from, &in_raw);
  if (!s.ok()) return files::FromLevelDb(s, from);
  std::unique_ptr<leveldb::SequentialFile> in(in_raw);
  leveldb::WritableFile* out_raw = nullptr;
  s = env->NewWritableFile(to, &out_raw);
  if (!s.ok()) return files::FromLevelDb(s, to);
  std::unique_ptr<leveldb::WritableFile> out(out_raw);
  Sha256 sha;
  std::string scratch(kCopyChunk, '\0');
  uint64_t left = size;
  while (left > 0) {
    leveldb::Slice chunk;
    s = in->Read(std::min<uint64_t>(left, kCopyChunk), &chunk, scratch.data());
    if (!s.ok()) return files::FromLevelDb(s, from);
    if (chunk.empty()) {
      return absl::DataLossError(
          absl::StrCat(from, " ended ", left, " bytes before its expected size ", size));
    }
    sha.Update(absl::string_view(chunk.data(), chunk.size()));
    s = out->Append(chunk);
    if (!s.ok()) return files::FromLevelDb(s, to);
    left -= chunk.size();
  }
  if (sync) s = out->Sync();
  if (s.ok()) s = out->Close();
  if (!s.ok()) return files::FromLevelDb(s, to);
  return sha.HexDigest();
}

absl::StatusOr<std::string> FileSha256(leveldb::Env* env, const std::string& path, uint64_t* size) {
  leveldb::SequentialFile* raw = nullptr;
  leveldb::Status s = env->NewSequentialFile(path, &raw);
  if (!s.ok()) return files::FromLevelDb(s, path);
  std::unique_ptr<leveldb::SequentialFile> in(raw);
  Sha256 sha;
  std::string scratch(kCopyChunk, '\0');
  *size = 0;
  while (true) {
    leveldb::Slice chunk;
    s = in->Read(kCopyChunk, &chunk, scratch.data());
    if (!s.ok()) return files::FromLevelDb(s, path);
    if (chunk.empty()) break;
    sha.Update(absl::string_view(chunk.data(), chunk.size()));
    *size += chunk.size();
  }
  return sha.HexDigest();
}

absl::Status ForEachTableEntry(
    leveldb::Env* env, const std::string& path, uint64_t size,
    const std::function<absl::Status(absl::string_view, absl::string_view)>& visit) {
  leveldb::RandomAccessFile* raw = nullptr;
  leveldb::Status s = env->NewRandomAccessFile(path, &raw);
  if (!s.ok()) return files::FromLevelDb(s, path);
  std::unique_ptr<leveldb::RandomAccessFile> file(raw);
  leveldb::Options options;
  options.env = env;
  options.paranoid_checks = true;
  leveldb::Table* table_raw = nullptr;
  s = leveldb::Table::Open(options, file.get(), size, &table_raw);
  if (!s.ok()) return absl::DataLossError(absl::StrCat(path, ": ", s.ToString()));
  std::unique_ptr<leveldb::Table> table(table_raw);
  leveldb::ReadOptions ro;
  ro.verify_checksums = true;
  ro.fill_cache = false;
  std::unique_ptr<leveldb::Iterator> it(table->NewIterator(ro));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (auto st = visit(absl::string_view(it->key().data(), it->key().size()),
                        absl::string_view(it->value().data(), it->value().size()));
        !st.ok()) {
      return st;
    }
  }
  if (!it->status().ok()) {
    return absl::DataLossError(absl::StrCat(path, ": ", it->status().ToString()));
  }
  return absl::OkStatus();
}

}  // namespace internal

absl::StatusOr<LiveFiles> ListLiveFiles(leveldb::Env* env, const std::string& dir,
                                        const std::function<bool(const std::string&)>& skip) {
  LiveFiles live;
  absl::StatusOr<std::string> current = files::ReadFile(env, absl::StrCat(dir, "/CURRENT"));
  if (!current.ok()) return current.status();
  live.current = *current;
  live.manifest.name = std::string(absl::StripTrailingAsciiWhitespace(*current));
  if (!absl::StartsWith(live.manifest.name, "MANIFEST-") || !IsPlainName(live.manifest.name)) {
    return absl::DataLossError(absl::StrCat(dir, "/CURRENT names no MANIFEST: ", *current));
  }
  // The MANIFEST's size first, then the table files (see file_backup.h).
  leveldb::Status s =
      env->GetFileSize(absl::StrCat(dir, "/", live.manifest.name), &live.manifest.size);
  if (!s.ok()) return files::FromLevelDb(s, dir);
  std::vector<std::string> children;
  s = env->GetChildren(dir, &children);
  if (!s.ok()) return files::FromLevelDb(s, dir);
  std::sort(children.begin(), children.end());
  for (const std::string& name : children) {
    const bool table = IsTableFile(name);
    if (!table && !LogFileNumber(name).has_value()) continue;
    if (table && skip && skip(absl::StrCat(dir, "/", name))) continue;
    LiveFiles::File f{name, 0};
    s = env->GetFileSize(absl::StrCat(dir, "/", name), &f.size);
    if (!s.ok()) return files::FromLevelDb(s, dir);
    (table ? live.tables : live.logs).push_back(std::move(f));
  }
  return live;
}

absl::StatusOr<BackupManifest> WriteFileBackup(leveldb::Env* env, const std::string& backup_root,
                                               const FileBackupSource& src) {
  const std::string pool = PoolPath(backup_root, src.table);
  if (auto s = files::CreateDirs(env, pool); !s.ok()) return s;
  absl::StatusOr<PendingBackup> pending = StartBackup(env, backup_root, src.table, src.time);
  if (!pending.ok()) return pending.status();
  BackupManifest manifest;
  manifest.set_format_version(kFileBackupFormatVersion);
  manifest.set_record_count(src.record_count);
  manifest.set_logical_bytes(src.logical_bytes);
  manifest.set_generation(src.generation);
  manifest.set_first_log_number(src.first_log_number);
  auto fail = [&](absl::Status s) {
    (void)files::RemoveTree(env, pending->temp_dir);
    return s;
  };
  const std::map<std::string, std::string> known = KnownPoolChecksums(backup_root, src.table);
  uint64_t copied = 0;
  for (const LiveFiles::File& t : src.files.tables) {
    if (auto s = PoolTableFile(env, pool, src, t, known, manifest.add_files(), &copied); !s.ok()) {
      return fail(s);
    }
  }
  manifest.set_new_bytes(copied);
  if (auto s =
          CopyOwnFile(env, absl::StrCat(src.dir, "/", src.files.manifest.name), pending->temp_dir,
                      src.files.manifest.name, src.files.manifest.size, &manifest);
      !s.ok()) {
    return fail(s);
  }
  for (const LiveFiles::File& l : src.files.logs) {
    if (auto s = CopyOwnFile(env, absl::StrCat(src.dir, "/", l.name), pending->temp_dir, l.name,
                             l.size, &manifest);
        !s.ok()) {
      return fail(s);
    }
  }
  // CURRENT as it was listed (LevelDB may have written a new one since).
  if (auto s = files::WriteFileAtomically(env, absl::StrCat(pending->temp_dir, "/CURRENT"),
                                          src.files.current);
      !s.ok()) {
    return fail(s);
  }
  {
    internal::Sha256 sha;
    sha.Update(src.files.current);
    auto* f = manifest.add_files();
    f->set_name("CURRENT");
    f->set_restore_name("CURRENT");
    f->set_size_bytes(src.files.current.size());
    f->set_sha256(sha.HexDigest());
    f->set_copied(true);
    manifest.set_new_bytes(manifest.new_bytes() + src.files.current.size());
  }
  fault::KillHereIfAsked("snapshot");  // files copied, backup not committed
  if (auto s = CommitBackup(env, *pending, src.table, &manifest); !s.ok()) return fail(s);
  return manifest;
}

absl::StatusOr<BackupManifest> CheckFileBackup(leveldb::Env* env, const std::string& backup_dir,
                                               const BackupManifest& manifest, BackupCheck depth) {
  std::set<std::string> own;
  std::set<std::string> restored;
  for (const auto& f : manifest.files()) {
    if (!IsPlainName(f.name()) || !IsPlainName(f.restore_name()) || f.name() == kManifestFile ||
        !restored.insert(f.restore_name()).second ||
        (!f.pooled() && !own.insert(f.name()).second)) {
      return absl::DataLossError(absl::StrCat("backup ", backup_dir, ": bad file name ", f.name()));
    }
    const std::string path = SourcePath(backup_dir, f);
    uint64_t size = 0;
    if (depth == BackupCheck::kListing || (depth == BackupCheck::kWritten && !f.copied())) {
      if (!env->GetFileSize(path, &size).ok()) {
        return absl::DataLossError(absl::StrCat("backup ", backup_dir, ": ", path, " is missing"));
      }
    } else {
      absl::StatusOr<std::string> sha = internal::FileSha256(env, path, &size);
      if (!sha.ok()) return absl::DataLossError(sha.status().message());
      if (*sha != f.sha256()) {
        return absl::DataLossError(
            absl::StrCat("backup ", backup_dir, ": ", path, " does not match its checksum"));
      }
    }
    if (size != f.size_bytes()) {
      return absl::DataLossError(absl::StrCat("backup ", backup_dir, ": ", path, " has ", size,
                                              " bytes, the manifest says ", f.size_bytes()));
    }
  }
  std::vector<std::string> children;
  if (env->GetChildren(backup_dir, &children).ok()) {
    for (const std::string& name : children) {
      if (name != "." && name != ".." && name != kManifestFile && !own.count(name)) {
        return absl::DataLossError(absl::StrCat("backup ", backup_dir, ": unexpected file ", name));
      }
    }
  }
  if (depth != BackupCheck::kFull) return manifest;
  const std::string scratch =
      absl::StrCat(files::Parent(backup_dir), "/", kTempPrefix, "verify-", manifest.backup_id());
  if (auto s = files::RemoveTree(env, scratch); !s.ok()) return s;
  absl::StatusOr<BackupManifest> restored_manifest =
      RestoreFileBackup(env, backup_dir, manifest, scratch);
  absl::Status removed = files::RemoveTree(env, scratch);
  if (!restored_manifest.ok()) return restored_manifest.status();
  if (!removed.ok()) return removed;
  return restored_manifest;
}

absl::StatusOr<BackupManifest> RestoreFileBackup(leveldb::Env* env, const std::string& backup_dir,
                                                 BackupManifest manifest,
                                                 const std::string& table_dir, RestoreCheck check,
                                                 const std::string& alternate_dir) {
  if (env->FileExists(table_dir)) {
    return absl::AlreadyExistsError(absl::StrCat(table_dir, " already exists"));
  }
  if (auto s = CheckFileBackup(env, backup_dir, manifest, BackupCheck::kListing); !s.ok()) {
    return s.status();
  }
  if (auto s = files::CreateDirs(env, table_dir); !s.ok()) return s;
  auto fail = [&](absl::Status s) {
    (void)files::RemoveTree(env, table_dir);
    return s;
  };
  // One file: copied with its SHA-256 checked, or taken from the damaged
  // table when the backup's copy is damaged. fsynced at the end: the disk
  // writes the copies back meanwhile.
  auto copy_one = [&](const common::v1::BackupFile& f) -> absl::Status {
    const std::string from = SourcePath(backup_dir, f);
    const std::string to = absl::StrCat(table_dir, "/", f.restore_name());
    absl::StatusOr<std::string> sha =
        internal::CopyFilePrefix(env, from, to, f.size_bytes(), false);
    if (!absl::IsDataLoss(sha.status()) && !absl::IsNotFound(sha.status()) && !sha.ok()) {
      return sha.status();  // an I/O error, not damage
    }
    if (sha.ok() && *sha == f.sha256()) {
      // The disk writes it while the other files copy, so the fsyncs at the
      // end find little left to do (0.13 -> 0.01 s for 189 MB; session 14).
      files::StartWriteback(to);
      return absl::OkStatus();
    }
    // A damaged or missing pool file: table files never change, so the
    // damaged table may still hold an intact copy of this one.
    if (f.pooled() && !alternate_dir.empty()) {
      (void)env->RemoveFile(to);
      const std::string other = absl::StrCat(alternate_dir, "/", f.restore_name());
      absl::StatusOr<std::string> again =
          internal::CopyFilePrefix(env, other, to, f.size_bytes(), false);
      if (again.ok() && *again == f.sha256()) {
        log::Warn("a damaged backup file was replaced by an identical one from the damaged table",
                  {{"backup", backup_dir}, {"file", f.name()}, {"from", other}});
        return absl::OkStatus();
      }
    }
    return absl::DataLossError(
        absl::StrCat("backup ", backup_dir, ": ", from,
                     sha.ok() ? " does not match its checksum" : " cannot be read: ",
                     sha.ok() ? "" : sha.status().message()));
  };
  // Hashing is CPU-bound: one copier per core (two here), largest files
  // first so the copiers finish together.
  std::vector<const common::v1::BackupFile*> order;
  for (const auto& f : manifest.files()) order.push_back(&f);
  std::sort(order.begin(), order.end(),
            [](const auto* a, const auto* b) { return a->size_bytes() > b->size_bytes(); });
  std::atomic<size_t> next{0};
  absl::Mutex error_mu;
  absl::Status first_error;
  auto copier = [&] {
    for (size_t i; (i = next++) < order.size();) {
      absl::Status s = copy_one(*order[i]);
      if (s.ok()) continue;
      absl::MutexLock l(&error_mu);
      if (first_error.ok()) first_error = s;
      next = order.size();  // the others stop after their current file
    }
  };
  const unsigned copiers = std::clamp(std::thread::hardware_concurrency(), 1u, 4u);
  std::vector<std::thread> threads;
  for (unsigned i = 1; i < copiers; ++i) threads.emplace_back(copier);
  copier();
  for (auto& t : threads) t.join();
  if (!first_error.ok()) return fail(first_error);
  leveldb::Options options;
  options.env = env;
  options.paranoid_checks = true;
  leveldb::DB* raw = nullptr;
  leveldb::Status s = leveldb::DB::Open(options, table_dir, &raw);
  if (!s.ok()) {
    return fail(absl::DataLossError(
        absl::StrCat("backup ", backup_dir, " does not open as a table: ", s.ToString())));
  }
  std::unique_ptr<leveldb::DB> db(raw);
  if (check == RestoreCheck::kRecords) {
    internal::ContentHasher hasher;
    if (s = internal::HashRecords(db.get(), &hasher); !s.ok()) {
      return fail(absl::DataLossError(
          absl::StrCat("backup ", backup_dir, " does not read back: ", s.ToString())));
    }
    if (hasher.count() != manifest.record_count()) {
      return fail(
          absl::DataLossError(absl::StrCat("backup ", backup_dir, ": holds ", hasher.count(),
                                           " records, manifest says ", manifest.record_count())));
    }
    const std::string hash = hasher.HexDigest();
    if (!manifest.content_hash().empty() && manifest.content_hash() != hash) {
      return fail(absl::DataLossError(
          absl::StrCat("backup ", backup_dir, ": content hash differs from the manifest")));
    }
    manifest.set_content_hash(hash);
  }
  // Exact either way: the manifest's count was taken with the files.
  internal::StoredStats stats{manifest.record_count(), manifest.logical_bytes(), true};
  leveldb::WriteOptions sync;
  sync.sync = true;
  s = db->Put(sync, leveldb::Slice(internal::kStatsKey.data(), internal::kStatsKey.size()),
              internal::EncodeStats(stats));
  if (!s.ok()) return fail(files::FromLevelDb(s, table_dir));
  db.reset();
  // The deferred fsyncs, of every file LevelDB left (it replaces some).
  std::vector<std::string> children;
  s = env->GetChildren(table_dir, &children);
  if (!s.ok()) return fail(files::FromLevelDb(s, table_dir));
  for (const std::string& name : children) {
    if (name == "." || name == "..") continue;
    if (auto st = files::SyncFile(absl::StrCat(table_dir, "/", name)); !st.ok()) return fail(st);
  }
  if (auto st = files::SyncDirectory(table_dir); !st.ok()) return fail(st);
  return manifest;
}

ScrubReport ScrubPool(leveldb::Env* env, const std::string& backup_root, const std::string& table,
                      const std::string& live_dir) {
  ScrubReport report;
  auto ids = ListBackups(backup_root, table);
  if (!ids.ok()) return report;
  // Pool name -> (the file as listed, the backups listing it).
  std::map<std::string, std::pair<common::v1::BackupFile, std::vector<std::string>>> listed;
  for (const std::string& id : *ids) {
    auto manifest = ReadManifest(BackupPath(backup_root, table, id));
    if (!manifest.ok()) continue;
    for (const auto& f : manifest->files()) {
      if (!f.pooled() || !IsPlainName(f.name()) || !IsPlainName(f.restore_name())) continue;
      auto& entry = listed[f.name()];
      entry.first = f;
      entry.second.push_back(id);
    }
  }
  const std::string pool = PoolPath(backup_root, table);
  for (const auto& [name, entry] : listed) {
    const auto& [file, backups] = entry;
    const std::string path = absl::StrCat(pool, "/", name);
    uint64_t size = 0;
    absl::StatusOr<std::string> sha = internal::FileSha256(env, path, &size);
    ++report.files;
    report.bytes += size;
    if (sha.ok() && *sha == file.sha256() && size == file.size_bytes()) continue;
    report.damaged.push_back(name);
    log::Error(
        "a backup pool file is damaged",
        {{"table", table}, {"file", path}, {"backups", static_cast<uint64_t>(backups.size())}});
    // An identical copy in the live table?
    const std::string temp = absl::StrCat(pool, "/", kTempPrefix, name);
    (void)env->RemoveFile(temp);
    absl::StatusOr<std::string> copied = internal::CopyFilePrefix(
        env, absl::StrCat(live_dir, "/", file.restore_name()), temp, file.size_bytes());
    if (copied.ok() && *copied == file.sha256()) {
      const std::string keep = absl::StrCat(backup_root, "/", table, "/damaged");
      absl::Status s = absl::OkStatus();
      if (env->FileExists(path)) {  // kept, not deleted
        s = files::CreateDirs(env, keep);
        if (s.ok()) {
          s = files::RenameDurably(
              env, path, absl::StrCat(keep, "/", name, ".", absl::ToUnixMicros(absl::Now())));
        }
      }
      if (s.ok()) s = files::RenameDurably(env, temp, path);
      if (s.ok()) {
        report.repaired.push_back(name);
        log::Info("a damaged pool file was replaced from the live table",
                  {{"table", table}, {"file", path}});
        continue;
      }
    }
    (void)env->RemoveFile(temp);
    for (const std::string& id : backups) report.unusable_backups.push_back(id);
  }
  std::sort(report.unusable_backups.begin(), report.unusable_backups.end());
  report.unusable_backups.erase(
      std::unique(report.unusable_backups.begin(), report.unusable_backups.end()),
      report.unusable_backups.end());
  return report;
}

std::vector<std::string> PrunePool(leveldb::Env* env, const std::string& backup_root,
                                   const std::string& table, absl::Duration min_age) {
  std::vector<std::string> removed;
  auto ids = ListBackups(backup_root, table);
  if (!ids.ok()) return removed;
  std::set<std::string> referenced;
  for (const std::string& id : *ids) {
    auto manifest = ReadManifest(BackupPath(backup_root, table, id));
    if (!manifest.ok()) {
      log::Warn("pool files are kept: a backup's manifest does not read",
                {{"table", table}, {"backup_id", id}});
      return removed;
    }
    for (const auto& f : manifest->files()) {
      if (f.pooled()) referenced.insert(f.name());
    }
  }
  const std::string pool = PoolPath(backup_root, table);
  std::vector<std::string> children;
  if (!env->GetChildren(pool, &children).ok()) return removed;
  for (const std::string& name : children) {
    if (name == "." || name == ".." || referenced.count(name)) continue;
    const std::string path = absl::StrCat(pool, "/", name);
    absl::StatusOr<absl::Duration> idle = files::UnmodifiedFor(path);
    if (!idle.ok() || *idle < min_age) continue;
    if (files::RemoveFileDurably(env, path).ok()) removed.push_back(name);
  }
  if (!removed.empty()) {
    log::Info("pool files no backup lists were removed",
              {{"table", table}, {"files", static_cast<uint64_t>(removed.size())}});
  }
  return removed;
}

}  // namespace agentcom::storage
