#include "common/storage/wal_shipper.h"

#include <leveldb/env.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "common/fault/fault.h"
#include "common/files/files.h"
#include "common/logging/log.h"
#include "common/storage/table.h"
#include "common/storage/wal.h"

namespace agentcom::storage {
namespace {

constexpr size_t kChunk = 1 << 20;

uint64_t SizeOrZero(leveldb::Env* env, const std::string& path) {
  uint64_t size = 0;
  if (!env->GetFileSize(path, &size).ok()) return 0;
  return size;
}

// How good a copy of one log is for a replay: intact first, then the number
// of intact batches. A copy that cannot be read scores below every other.
struct LogScore {
  bool readable = false;
  bool intact = false;
  size_t batches = 0;
  bool operator<(const LogScore& o) const {
    return std::tie(readable, intact, batches) < std::tie(o.readable, o.intact, o.batches);
  }
};

LogScore Score(leveldb::Env* env, const std::string& path) {
  absl::StatusOr<WalFile> file = ReadWalFile(env, path);
  if (!file.ok()) return {};
  return {.readable = true, .intact = file->damage.empty(), .batches = file->batches.size()};
}

}  // namespace

std::string ShippedWalRoot(const std::string& backup_root, absl::string_view table) {
  return absl::StrCat(backup_root, "/", table, "/", kShippedWalDir);
}

std::string ShippedWalDir(const std::string& backup_root, absl::string_view table,
                          absl::string_view generation) {
  return absl::StrCat(ShippedWalRoot(backup_root, table), "/", generation);
}

WalShipper::WalShipper(leveldb::Env* env, Clock* clock, std::string table_dir,
                       std::string ship_root)
    : env_(env),
      clock_(clock),
      table_dir_(std::move(table_dir)),
      ship_root_(std::move(ship_root)),
      created_(clock->Now()) {}

WalShipper::~WalShipper() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void WalShipper::Start(absl::Duration interval) {
  thread_ = std::thread([this, interval] { Loop(interval); });
}

void WalShipper::Loop(absl::Duration interval) {
  SetThisThreadNice(kBackgroundNice);
  while (true) {
    {
      absl::MutexLock l(&mu_);
      if (clock_->AwaitWithDeadline(&mu_, absl::Condition(&stopping_), clock_->Now() + interval)) {
        return;
      }
    }
    if (absl::Status s = ShipOnce(); !s.ok()) {
      // Counted and shown in the progress; the lag grows until it works.
      log::Debug("shipping write-ahead logs failed",
                 {{"table_dir", table_dir_}, {"error", std::string(s.message())}});
    }
  }
}

absl::Status WalShipper::ShipOnce() {
  absl::MutexLock round(&round_mu_);
  const absl::Time start = clock_->Now();
  auto fail = [&](absl::Status s) {
    absl::MutexLock l(&mu_);
    ++progress_.failures;
    progress_.last_error = std::string(s.message());
    return s;
  };
  absl::StatusOr<std::string> generation =
      files::ReadFile(env_, absl::StrCat(table_dir_, "/", kGenerationFile));
  if (!generation.ok()) return fail(generation.status());
  if (*generation != generation_) {  // a restore started a new history
    generation_ = *generation;
    complete_.clear();
    reported_short_.clear();
  }
  const std::string dest_dir = absl::StrCat(ship_root_, "/", generation_);
  if (absl::Status s = files::CreateDirs(env_, dest_dir); !s.ok()) return fail(s);

  uint64_t shipped = 0;
  uint64_t pending = 0;
  absl::Status first_error;
  const std::string archive = absl::StrCat(table_dir_, "/", kWalArchiveDir);
  for (const WalLog& log : ListWalLogs(env_, table_dir_, 0)) {
    if (complete_.count(log.number) > 0) continue;
    uint64_t size = 0;
    if (leveldb::Status s = env_->GetFileSize(log.path, &size); !s.ok()) {
      // Not found: archived meanwhile, and the next round ships it.
      if (!s.IsNotFound() && first_error.ok()) first_error = files::FromLevelDb(s, log.path);
      continue;
    }
    const std::string dest = absl::StrCat(dest_dir, "/", files::Basename(log.path));
    const uint64_t copied = SizeOrZero(env_, dest);
    if (size > copied) pending += size - copied;
    uint64_t now_shipped = 0;
    absl::Status s = ShipLog(log, dest, size, copied, &now_shipped);
    shipped += now_shipped;
    if (absl::IsNotFound(s)) continue;  // archived meanwhile: the next round ships it
    if (!s.ok()) {
      if (first_error.ok()) first_error = s;
      continue;
    }
    if (files::Parent(log.path) == archive) complete_[log.number] = size;
  }
  absl::MutexLock l(&mu_);
  progress_.shipped_bytes += shipped;
  if (!first_error.ok()) {
    ++progress_.failures;
    progress_.last_error = std::string(first_error.message());
    progress_.lag_bytes = pending > shipped ? pending - shipped : pending;
    return first_error;
  }
  progress_.lag_bytes = pending;
  progress_.shipped_through = start;
  progress_.last_error.clear();
  return absl::OkStatus();
}

absl::Status WalShipper::ShipLog(const WalLog& log, const std::string& dest, uint64_t size,
                                 uint64_t copied, uint64_t* shipped) {
  if (size == copied) return absl::OkStatus();
  if (size < copied) {
    if (reported_short_[log.number] != size) {
      reported_short_[log.number] = size;
      log::Warn(
          "a write-ahead log is shorter than its shipped copy (damaged or truncated); the "
          "shipped copy is kept and a restore prefers it",
          {{"log", log.path}, {"bytes", size}, {"shipped_bytes", copied}});
    }
    return absl::OkStatus();
  }
  leveldb::RandomAccessFile* raw_in = nullptr;
  if (leveldb::Status s = env_->NewRandomAccessFile(log.path, &raw_in); !s.ok()) {
    return files::FromLevelDb(s, log.path);
  }
  std::unique_ptr<leveldb::RandomAccessFile> in(raw_in);
  leveldb::WritableFile* raw_out = nullptr;
  if (leveldb::Status s = env_->NewAppendableFile(dest, &raw_out); !s.ok()) {
    return files::FromLevelDb(s, dest);
  }
  std::unique_ptr<leveldb::WritableFile> out(raw_out);
  std::string buffer(kChunk, '\0');
  for (uint64_t offset = copied; offset < size;) {
    leveldb::Slice chunk;
    const size_t want = static_cast<size_t>(std::min<uint64_t>(kChunk, size - offset));
    if (leveldb::Status s = in->Read(offset, want, &chunk, buffer.data()); !s.ok()) {
      return files::FromLevelDb(s, log.path);
    }
    if (chunk.empty()) break;  // cannot happen for bytes below the size read
    if (leveldb::Status s = out->Append(chunk); !s.ok()) return files::FromLevelDb(s, dest);
    // Bytes appended to a copy, not yet fsynced, later logs not shipped.
    if (copied > 0) fault::KillHereIfAsked("shipping");
    offset += chunk.size();
    *shipped += chunk.size();
  }
  if (leveldb::Status s = out->Sync(); !s.ok()) return files::FromLevelDb(s, dest);
  if (leveldb::Status s = out->Close(); !s.ok()) return files::FromLevelDb(s, dest);
  if (copied == 0) return files::SyncDirectory(files::Parent(dest));  // a new file
  return absl::OkStatus();
}

ShipProgress WalShipper::Progress() const {
  absl::MutexLock l(&mu_);
  ShipProgress p = progress_;
  p.lag = clock_->Now() - std::max(p.shipped_through, created_);
  return p;
}

std::string FindLogsLostSinceShipped(leveldb::Env* env, const std::string& table_dir,
                                     const std::string& ship_root) {
  absl::StatusOr<std::string> generation =
      files::ReadFile(env, absl::StrCat(table_dir, "/", kGenerationFile));
  if (!generation.ok()) return "";
  const std::vector<WalLog> shipped =
      ListWalLogs(env, absl::StrCat(ship_root, "/", *generation), 0);
  if (shipped.empty()) return "";
  std::map<uint64_t, std::string> local;
  for (WalLog& log : ListWalLogs(env, table_dir, 0)) local[log.number] = std::move(log.path);
  const uint64_t newest_local = local.empty() ? 0 : local.rbegin()->first;
  for (const WalLog& copy : shipped) {
    auto it = local.find(copy.number);
    if (it == local.end()) {
      // Retention removes old logs, never the newest.
      if (copy.number > newest_local) {
        return absl::StrCat("Corruption: write-ahead log ", files::Basename(copy.path),
                            " is missing but was shipped to ", files::Parent(copy.path),
                            ": the writes it held would be lost");
      }
      continue;
    }
    const uint64_t have = SizeOrZero(env, it->second);
    const uint64_t had = SizeOrZero(env, copy.path);
    if (have < had) {
      return absl::StrCat("Corruption: write-ahead log ", it->second, " has ", have,
                          " bytes but its shipped copy has ", had,
                          ": it was truncated, and the writes after that point would be lost");
    }
  }
  return "";
}

std::vector<WalLog> ChooseWalLogs(leveldb::Env* env, const std::vector<WalLog>& local,
                                  const std::vector<WalLog>& shipped,
                                  std::vector<std::string>* notes) {
  std::map<uint64_t, WalLog> chosen;
  for (const WalLog& log : local) chosen[log.number] = log;
  for (const WalLog& log : shipped) {
    auto it = chosen.find(log.number);
    if (it == chosen.end()) {
      chosen[log.number] = log;
      continue;
    }
    const LogScore mine = Score(env, it->second.path);
    const LogScore theirs = Score(env, log.path);
    if (mine < theirs) {
      notes->push_back(absl::StrCat("log ", log.number, ": the table's copy ",
                                    mine.intact ? "holds fewer batches" : "is damaged",
                                    "; the shipped copy was replayed instead"));
      it->second = log;
    }
  }
  std::vector<WalLog> out;
  for (auto& [number, log] : chosen) out.push_back(std::move(log));
  return out;
}

}  // namespace agentcom::storage
