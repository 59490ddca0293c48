#include "common/storage/backup.h"

#include <fcntl.h>
#include <google/protobuf/util/json_util.h>
#include <leveldb/db.h>
#include <leveldb/env.h>
#include <leveldb/options.h>
#include <leveldb/table.h>
#include <leveldb/table_builder.h>
#include <leveldb/write_batch.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/files/files.h"
#include "common/storage/file_backup.h"
#include "common/storage/format.h"

namespace agentcom::storage {
namespace {

namespace fs = std::filesystem;
using common::v1::BackupManifest;

constexpr uint64_t kMaxFileBytes = 64ull << 20;
constexpr size_t kRestoreBatchBytes = 4 << 20;

// Iterates the records of a backup in order, checking block checksums and
// key order, and feeding every record to `visit`.
absl::Status ForEachRecord(
    leveldb::Env* env, const std::string& backup_dir, const BackupManifest& manifest,
    const std::function<absl::Status(absl::string_view, absl::string_view)>& visit) {
  std::string last_key;
  bool have_last = false;
  for (const auto& file : manifest.files()) {
    const std::string path = absl::StrCat(backup_dir, "/", file.name());
    absl::Status st = internal::ForEachTableEntry(
        env, path, file.size_bytes(), [&](absl::string_view key, absl::string_view value) {
          if (have_last && key <= last_key) {
            return absl::DataLossError(absl::StrCat(path, ": keys out of order"));
          }
          last_key.assign(key.data(), key.size());
          have_last = true;
          return visit(key, value);
        });
    if (!st.ok()) return st;
  }
  return absl::OkStatus();
}

absl::Status CheckTotals(const std::string& backup_dir, const BackupManifest& manifest,
                         internal::ContentHasher& hasher) {
  if (hasher.count() != manifest.record_count()) {
    return absl::DataLossError(absl::StrCat("backup ", backup_dir, ": holds ", hasher.count(),
                                            " records, manifest says ", manifest.record_count()));
  }
  if (hasher.HexDigest() != manifest.content_hash()) {
    return absl::DataLossError(
        absl::StrCat("backup ", backup_dir, ": content hash differs from the manifest"));
  }
  return absl::OkStatus();
}

}  // namespace

// A WritableFile that hashes and counts what passes through it, so a
// backup file's checksum costs no second read.
class BackupWriter::HashingFile : public leveldb::WritableFile {
 public:
  explicit HashingFile(leveldb::WritableFile* base) : base_(base) {}
  leveldb::Status Append(const leveldb::Slice& data) override {
    sha_.Update(absl::string_view(data.data(), data.size()));
    size_ += data.size();
    return base_->Append(data);
  }
  leveldb::Status Close() override { return base_->Close(); }
  leveldb::Status Flush() override { return base_->Flush(); }
  leveldb::Status Sync() override { return base_->Sync(); }
  uint64_t size() const { return size_; }
  std::string HexDigest() { return sha_.HexDigest(); }

 private:
  std::unique_ptr<leveldb::WritableFile> base_;
  internal::Sha256 sha_;
  uint64_t size_ = 0;
};

std::string BackupIdFor(absl::Time time) {
  return absl::FormatTime("%Y%m%dT%H%M%E6SZ", time, absl::UTCTimeZone());
}

std::optional<absl::Time> BackupIdTime(absl::string_view id) {
  absl::Time t;
  std::string err;
  // %E4Y: a plain %Y would read every digit of the date as the year.
  if (!IsBackupId(id) ||
      !absl::ParseTime("%E4Y%m%dT%H%M%E*SZ", std::string(id), absl::UTCTimeZone(), &t, &err)) {
    return std::nullopt;
  }
  return t;
}

bool IsBackupId(absl::string_view name) {
  // 20261125T140816.123456Z
  if (name.size() != 23 || name[8] != 'T' || name[15] != '.' || name[22] != 'Z') {
    return false;
  }
  for (size_t i : {0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 16, 17, 18, 19, 20, 21}) {
    if (name[i] < '0' || name[i] > '9') return false;
  }
  return true;
}

std::string BackupPath(const std::string& backup_root, absl::string_view table,
                       absl::string_view backup_id) {
  return absl::StrCat(backup_root, "/", table, "/", backup_id);
}

std::optional<absl::Time> BackupTime(const common::v1::BackupManifest& manifest) {
  absl::Time created;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, manifest.created_at(), &created, &err)) {
    return std::nullopt;
  }
  return created;
}

absl::StatusOr<std::vector<std::string>> ListBackups(const std::string& backup_root,
                                                     absl::string_view table) {
  std::vector<std::string> ids;
  fs::path dir = fs::path(backup_root) / std::string(table);
  std::error_code ec;
  if (!fs::exists(dir, ec)) return ids;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (entry.is_directory() && IsBackupId(name)) ids.push_back(name);
  }
  if (ec) {
    return absl::UnavailableError(absl::StrCat("cannot list ", dir.string(), ": ", ec.message()));
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

absl::StatusOr<BackupManifest> ReadManifest(const std::string& backup_dir) {
  const std::string path = absl::StrCat(backup_dir, "/", kManifestFile);
  std::ifstream in(path);
  if (!in)
    return absl::NotFoundError(absl::StrCat("backup ", backup_dir, " has no ", kManifestFile));
  std::stringstream text;
  text << in.rdbuf();
  BackupManifest manifest;
  auto st = google::protobuf::util::JsonStringToMessage(text.str(), &manifest);
  if (!st.ok()) {
    return absl::DataLossError(absl::StrCat(path, ": ", st.ToString()));
  }
  return manifest;
}

absl::StatusOr<BackupManifest> VerifyBackup(const std::string& backup_dir, leveldb::Env* env,
                                            BackupCheck depth) {
  if (env == nullptr) env = leveldb::Env::Default();
  absl::StatusOr<BackupManifest> manifest = ReadManifest(backup_dir);
  if (!manifest.ok()) return manifest.status();
  const std::string id = fs::path(backup_dir).filename().string();
  if (manifest->format_version() != kBackupFormatVersion &&
      manifest->format_version() != kFileBackupFormatVersion) {
    return absl::DataLossError(
        absl::StrCat("backup ", backup_dir, ": format version ", manifest->format_version(),
                     " is not ", kBackupFormatVersion, " or ", kFileBackupFormatVersion));
  }
  if (manifest->backup_id() != id) {
    return absl::DataLossError(
        absl::StrCat("backup ", backup_dir, ": manifest names backup ", manifest->backup_id()));
  }
  if (manifest->format_version() == kFileBackupFormatVersion) {
    return CheckFileBackup(env, backup_dir, *manifest, depth);
  }
  std::set<std::string> listed;
  for (const auto& file : manifest->files()) {
    if (file.name().find('/') != std::string::npos || file.name() == kManifestFile ||
        !listed.insert(file.name()).second) {
      return absl::DataLossError(
          absl::StrCat("backup ", backup_dir, ": bad file name ", file.name()));
    }
    uint64_t size = 0;
    const std::string path = absl::StrCat(backup_dir, "/", file.name());
    if (depth == BackupCheck::kListing) {
      if (!env->GetFileSize(path, &size).ok() || size != file.size_bytes()) {
        return absl::DataLossError(
            absl::StrCat("backup ", backup_dir, ": file ", file.name(), " is missing or short"));
      }
      continue;
    }
    absl::StatusOr<std::string> sha = internal::FileSha256(env, path, &size);
    if (!sha.ok()) return absl::DataLossError(sha.status().message());
    if (size != file.size_bytes() || *sha != file.sha256()) {
      return absl::DataLossError(absl::StrCat("backup ", backup_dir, ": file ", file.name(),
                                              " does not match its checksum"));
    }
  }
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(backup_dir, ec)) {
    std::string name = entry.path().filename().string();
    if (name != kManifestFile && !listed.count(name)) {
      return absl::DataLossError(absl::StrCat("backup ", backup_dir, ": unexpected file ", name));
    }
  }
  if (depth != BackupCheck::kFull) return manifest;
  internal::ContentHasher hasher;
  auto st =
      ForEachRecord(env, backup_dir, *manifest, [&](absl::string_view k, absl::string_view v) {
        hasher.Add(k, v);
        return absl::OkStatus();
      });
  if (!st.ok()) return st;
  if (auto s = CheckTotals(backup_dir, *manifest, hasher); !s.ok()) return s;
  return manifest;
}

absl::StatusOr<BackupManifest> RestoreBackup(const std::string& backup_dir,
                                             const std::string& table_dir, leveldb::Env* env,
                                             RestoreCheck check, const std::string& alternate_dir) {
  if (env == nullptr) env = leveldb::Env::Default();
  absl::StatusOr<BackupManifest> manifest = ReadManifest(backup_dir);
  if (!manifest.ok()) return manifest.status();
  if (manifest->format_version() == kFileBackupFormatVersion) {
    return RestoreFileBackup(env, backup_dir, *std::move(manifest), table_dir, check,
                             alternate_dir);
  }
  std::error_code ec;
  if (fs::exists(table_dir, ec)) {
    return absl::AlreadyExistsError(absl::StrCat(table_dir, " already exists"));
  }
  leveldb::Options options;
  options.env = env;
  options.create_if_missing = true;
  options.error_if_exists = true;
  options.compression = leveldb::kNoCompression;
  options.write_buffer_size = 64 << 20;
  leveldb::DB* raw = nullptr;
  leveldb::Status s = leveldb::DB::Open(options, table_dir, &raw);
  if (!s.ok()) return files::FromLevelDb(s, table_dir);
  std::unique_ptr<leveldb::DB> db(raw);

  internal::ContentHasher hasher;
  leveldb::WriteBatch batch;
  leveldb::WriteOptions no_sync;
  auto flush = [&]() -> absl::Status {
    leveldb::Status ws = db->Write(no_sync, &batch);
    batch.Clear();
    return files::FromLevelDb(ws, table_dir);
  };
  absl::Status st = ForEachRecord(
      env, backup_dir, *manifest, [&](absl::string_view k, absl::string_view v) -> absl::Status {
        hasher.Add(k, v);
        batch.Put(internal::DataKey(k), leveldb::Slice(v.data(), v.size()));
        if (batch.ApproximateSize() >= kRestoreBatchBytes) return flush();
        return absl::OkStatus();
      });
  if (st.ok()) {
    internal::StoredStats stats{hasher.count(), hasher.logical_bytes(), true};
    batch.Put(std::string(internal::kStatsKey), internal::EncodeStats(stats));
    leveldb::WriteOptions sync;
    sync.sync = true;
    st = files::FromLevelDb(db->Write(sync, &batch), table_dir);
  }
  if (st.ok()) st = CheckTotals(backup_dir, *manifest, hasher);
  db.reset();
  if (!st.ok()) {
    fs::remove_all(table_dir, ec);
    return st;
  }
  return manifest;
}

BackupWriter::BackupWriter(leveldb::Env* env, std::string table, PendingBackup pending)
    : env_(env),
      table_(std::move(table)),
      pending_(std::move(pending)),
      options_(std::make_unique<leveldb::Options>()),
      hasher_(std::make_unique<internal::ContentHasher>()) {
  options_->env = env_;
  options_->compression = leveldb::kSnappyCompression;
  options_->block_size = 64 << 10;
}

absl::StatusOr<PendingBackup> StartBackup(leveldb::Env* env, const std::string& backup_root,
                                          const std::string& table, absl::Time now) {
  const std::string table_root = absl::StrCat(backup_root, "/", table);
  if (auto s = files::CreateDirs(env, table_root); !s.ok()) return s;
  // Two backups in one microsecond get distinct, still ordered, ids.
  PendingBackup p;
  p.id = BackupIdFor(now);
  while (env->FileExists(absl::StrCat(table_root, "/", p.id))) {
    now += absl::Microseconds(1);
    p.id = BackupIdFor(now);
  }
  p.created_at = absl::FormatTime(absl::RFC3339_full, now, absl::UTCTimeZone());
  p.final_dir = absl::StrCat(table_root, "/", p.id);
  p.temp_dir = absl::StrCat(table_root, "/", kTempPrefix, p.id);
  if (auto s = files::RemoveTree(env, p.temp_dir); !s.ok()) return s;
  if (auto s = files::CreateDirs(env, p.temp_dir); !s.ok()) return s;
  return p;
}

absl::Status CommitBackup(leveldb::Env* env, const PendingBackup& pending, const std::string& table,
                          BackupManifest* manifest) {
  manifest->set_table(table);
  manifest->set_backup_id(pending.id);
  manifest->set_created_at(pending.created_at);
  std::string json;
  google::protobuf::util::JsonPrintOptions print;
  print.add_whitespace = true;
  print.preserve_proto_field_names = true;
  auto ps = google::protobuf::util::MessageToJsonString(*manifest, &json, print);
  if (!ps.ok()) return absl::InternalError(ps.ToString());
  // WriteFileAtomically fsyncs the file and the temporary directory.
  if (auto s =
          files::WriteFileAtomically(env, absl::StrCat(pending.temp_dir, "/", kManifestFile), json);
      !s.ok()) {
    return s;
  }
  return files::RenameDurably(env, pending.temp_dir, pending.final_dir);
}

absl::StatusOr<std::unique_ptr<BackupWriter>> BackupWriter::Create(leveldb::Env* env,
                                                                   const std::string& backup_root,
                                                                   const std::string& table,
                                                                   absl::Time now) {
  if (env == nullptr) env = leveldb::Env::Default();
  absl::StatusOr<PendingBackup> pending = StartBackup(env, backup_root, table, now);
  if (!pending.ok()) return pending.status();
  return std::unique_ptr<BackupWriter>(new BackupWriter(env, table, std::move(*pending)));
}

BackupWriter::~BackupWriter() {
  if (builder_) builder_->Abandon();
  if (!committed_) (void)files::RemoveTree(env_, pending_.temp_dir);
}

absl::Status BackupWriter::StartFile() {
  file_name_ = absl::StrFormat("data-%06d.ldb", manifest_.files_size() + 1);
  leveldb::WritableFile* raw = nullptr;
  leveldb::Status s = env_->NewWritableFile(absl::StrCat(pending_.temp_dir, "/", file_name_), &raw);
  if (!s.ok()) return files::FromLevelDb(s, pending_.temp_dir);
  file_ = std::make_unique<HashingFile>(raw);
  builder_ = std::make_unique<leveldb::TableBuilder>(*options_, file_.get());
  return absl::OkStatus();
}

absl::Status BackupWriter::FinishFile() {
  leveldb::Status s = builder_->Finish();
  builder_.reset();
  if (s.ok()) s = file_->Sync();
  if (s.ok()) s = file_->Close();
  if (!s.ok()) return files::FromLevelDb(s, pending_.temp_dir);
  auto* f = manifest_.add_files();
  f->set_name(file_name_);
  f->set_size_bytes(file_->size());
  f->set_sha256(file_->HexDigest());
  file_.reset();
  return absl::OkStatus();
}

absl::Status BackupWriter::Add(absl::string_view key, absl::string_view value) {
  if (!builder_) {
    if (auto s = StartFile(); !s.ok()) return s;
  }
  hasher_->Add(key, value);
  builder_->Add(leveldb::Slice(key.data(), key.size()), leveldb::Slice(value.data(), value.size()));
  if (!builder_->status().ok()) return files::FromLevelDb(builder_->status(), pending_.temp_dir);
  if (builder_->FileSize() >= kMaxFileBytes) return FinishFile();
  return absl::OkStatus();
}

absl::StatusOr<BackupManifest> BackupWriter::Commit() {
  if (builder_) {
    if (auto s = FinishFile(); !s.ok()) return s;
  }
  manifest_.set_format_version(kBackupFormatVersion);
  manifest_.set_record_count(hasher_->count());
  manifest_.set_logical_bytes(hasher_->logical_bytes());
  manifest_.set_content_hash(hasher_->HexDigest());
  if (auto s = CommitBackup(env_, pending_, table_, &manifest_); !s.ok()) return s;
  committed_ = true;
  return manifest_;
}

}  // namespace agentcom::storage
