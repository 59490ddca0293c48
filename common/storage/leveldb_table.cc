#include "common/storage/leveldb_table.h"

#include <leveldb/env.h>
#include <leveldb/options.h>
#include <leveldb/write_batch.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/fault/fault.h"
#include "common/files/files.h"
#include "common/ids/random_id.h"
#include "common/logging/log.h"
#include "common/storage/backup.h"
#include "common/storage/file_backup.h"
#include "common/storage/format.h"
#include "common/storage/keys.h"
#include "common/storage/table_metrics.h"
#include "common/storage/wal.h"
#include "common/storage/wal_archive.h"

namespace agentcom::storage {
namespace {

using common::v1::DURABILITY_BUFFERED;
using common::v1::TABLE_STATE_CORRUPTED;
using common::v1::TABLE_STATE_DEGRADED;
using common::v1::TABLE_STATE_OK;
using common::v1::TABLE_STATE_RESTORING;

absl::string_view ToView(const leveldb::Slice& s) { return {s.data(), s.size()}; }
leveldb::Slice ToSlice(absl::string_view s) { return {s.data(), s.size()}; }

leveldb::ReadOptions CheckedRead(bool fill_cache = true) {
  leveldb::ReadOptions ro;
  ro.verify_checksums = true;
  ro.fill_cache = fill_cache;
  return ro;
}

bool CountsTowardsDisk(const std::string& file) {
  return absl::EndsWith(file, ".ldb") || absl::EndsWith(file, ".sst") ||
         absl::EndsWith(file, ".log") || absl::StartsWith(file, "MANIFEST-");
}

// Iterates the user records of `db` in [start, limit), stripping the data
// prefix. Returns the iterator's final status.
leveldb::Status ForEachData(
    leveldb::DB* db, const leveldb::ReadOptions& ro, absl::string_view start,
    absl::string_view limit,
    const std::function<bool(absl::string_view, absl::string_view)>& visit) {
  std::unique_ptr<leveldb::Iterator> it(db->NewIterator(ro));
  const std::string first = internal::DataKey(start);
  const std::string end =
      limit.empty() ? std::string(1, internal::kDataPrefix + 1) : internal::DataKey(limit);
  for (it->Seek(first); it->Valid(); it->Next()) {
    absl::string_view key = ToView(it->key());
    if (key >= end) break;
    if (!visit(key.substr(1), ToView(it->value()))) break;
  }
  return it->status();
}

}  // namespace

LevelDbTable::LevelDbTable(const TableOptions& options)
    : options_(options),
      clock_(options.clock != nullptr ? options.clock : Clock::Real()),
      wal_env_(std::make_unique<WalArchivingEnv>(
          options.env != nullptr ? options.env : leveldb::Env::Default(), options.dir,
          options.background_nice)),
      env_(wal_env_.get()),
      cache_(leveldb::NewLRUCache(size_t{options.storage.block_cache_mb()} << 20)),
      filter_(leveldb::NewBloomFilterPolicy(10)),
      state_(TABLE_STATE_OK),
      sequence_bound_path_(
          absl::StrCat(files::Parent(options.dir), "/.", options.name, ".sequence-bound")) {
  if (options_.storage.durability() == DURABILITY_BUFFERED) {
    flusher_ = std::thread([this] { FlushLoop(); });
  }
  if (!options_.wal_ship_root.empty() && options_.storage.wal_ship_interval_ms() > 0) {
    shipper_ = std::make_unique<WalShipper>(wal_env_->target(), clock_, options_.dir,
                                            options_.wal_ship_root);
    shipper_->Start(absl::Milliseconds(options_.storage.wal_ship_interval_ms()));
  }
}

LevelDbTable::~LevelDbTable() {
  {
    absl::MutexLock l(&flush_mu_);
    stopping_ = true;
  }
  if (flusher_.joinable()) flusher_.join();
  std::thread committer;
  {
    absl::MutexLock q(&commit_mu_);
    committer_stopping_ = true;
    committer = std::move(committer_);
  }
  if (committer.joinable()) committer.join();
  shipper_.reset();
  absl::MutexLock l(&db_mu_);
  CloseLocked();
}

absl::Status LevelDbTable::Open() {
  absl::MutexLock l(&db_mu_);
  return OpenLocked();
}

absl::Status LevelDbTable::OpenLocked(bool after_repair) {
  // A table whose directory is gone is lost, not new, when anything shows
  // it held data: served empty, its agents would see their data vanish and
  // no restore would bring it back.
  if (!env_->FileExists(options_.dir)) {
    if (std::string evidence = EvidenceOfData(); !evidence.empty()) {
      MarkCorrupted(absl::StrCat("Corruption: the table's directory ", options_.dir,
                                 " is missing, but ", evidence));
      return absl::OkStatus();
    }
  }
  std::error_code ec;
  std::filesystem::create_directories(options_.dir, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("table ", name(), ": cannot create ", options_.dir, ": ", ec.message()));
  }
  leveldb::Options o;
  o.env = env_;
  o.create_if_missing = true;
  o.paranoid_checks = true;
  o.block_cache = cache_.get();
  o.filter_policy = filter_.get();
  o.write_buffer_size = size_t{options_.storage.write_buffer_mb()} << 20;
  o.max_open_files = static_cast<int>(options_.storage.max_open_files());
  // Uncompressed, so disk bytes and live bytes are comparable and the
  // fragmentation ratio means what it says (table.proto).
  o.compression = leveldb::kNoCompression;
  // LevelDB treats a directory without CURRENT as a new database and would
  // then delete the table files it does not know as obsolete. Files of a
  // table without CURRENT are damage, not an empty table.
  if (std::string orphan = FileWithoutCurrent(); !orphan.empty()) {
    MarkCorrupted(absl::StrCat("Corruption: CURRENT is missing but ", orphan, " is present"));
    return absl::OkStatus();
  }
  // A MANIFEST whose tail is damaged would open as an older table.
  if (!after_repair) {
    if (std::string damaged =
            CheckManifest(wal_env_->target(), options_.dir, wal_env_->archive_dir());
        !damaged.empty()) {
      MarkCorrupted(damaged);
      return absl::OkStatus();
    }
  }
  // A log truncated or deleted since it was shipped would open as after a
  // crash, without the writes it lost; a restore brings them back.
  if (!options_.wal_ship_root.empty() && !after_repair) {
    if (std::string lost =
            FindLogsLostSinceShipped(wal_env_->target(), options_.dir, options_.wal_ship_root);
        !lost.empty()) {
      MarkCorrupted(lost);
      return absl::OkStatus();
    }
  }
  leveldb::DB* raw = nullptr;
  leveldb::Status s = leveldb::DB::Open(o, options_.dir, &raw);
  if (!s.ok()) {
    if (s.IsCorruption()) {
      MarkCorrupted(s.ToString());
      return absl::OkStatus();
    }
    return Classify(s, "open");
  }
  db_.reset(raw);
  if (auto generation = EnsureGeneration(); !generation.ok()) return generation.status();
  if (auto floor = LoadSequenceFloor(); !floor.ok()) {
    if (state() == TABLE_STATE_CORRUPTED) return absl::OkStatus();
    return floor;
  }
  SetStateFromMarkers();
  absl::Status counted = LoadOrRecountStats();
  // Corruption found while recounting (after a crash, or a close that
  // abandoned a corrupted table) leaves the table CORRUPTED and open, so
  // that its store still starts and serves its other tables.
  if (!counted.ok() && state() == TABLE_STATE_CORRUPTED) return absl::OkStatus();
  return counted;
}

absl::Status LevelDbTable::LoadSequenceFloor() {
  uint64_t bound = 0;
  if (absl::StatusOr<std::string> text = files::ReadFile(env_, sequence_bound_path_); text.ok()) {
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &bound)) bound = 0;
  } else if (!absl::IsNotFound(text.status())) {
    return text.status();
  }
  std::string bytes;
  // The last commit time continues: commit times never go back.
  leveldb::Status s = db_->Get(CheckedRead(), ToSlice(internal::kCommitTimeKey), &bytes);
  if (s.ok() && bytes.size() >= 8) {
    last_commit_micros_ =
        std::max(last_commit_micros_.load(), static_cast<int64_t>(DecodeU64(bytes)));
  } else if (!s.ok() && !IsAbsentKey(s)) {
    return Classify(s, "open");
  }
  uint64_t floor = 0;
  s = db_->Get(CheckedRead(), ToSlice(internal::kSequenceFloorKey), &bytes);
  if (s.ok()) {
    floor = DecodeU64(bytes);
  } else if (!IsAbsentKey(s)) {
    return Classify(s, "open");
  }
  {
    absl::MutexLock l(&sequence_mu_);
    sequence_floor_ = floor;
    sequence_bound_ = std::max(bound, floor);
  }
  const std::string marker = absl::StrCat(options_.dir, "/", kLossyRestoreMarkerFile);
  if (!env_->FileExists(marker)) return absl::OkStatus();
  if (auto r = RaiseSequenceFloor(); !r.ok()) return r;
  return files::RemoveFileDurably(env_, marker);
}

absl::Status LevelDbTable::RaiseSequenceFloor() {
  absl::MutexLock l(&sequence_mu_);
  if (sequence_bound_ <= sequence_floor_) return absl::OkStatus();
  leveldb::WriteOptions sync;
  sync.sync = true;
  if (leveldb::Status s =
          db_->Put(sync, ToSlice(internal::kSequenceFloorKey), EncodeU64(sequence_bound_));
      !s.ok()) {
    return Classify(s, "restore");
  }
  log::Warn(
      "the table was restored with writes lost: sequence numbers continue above every one "
      "it issued before",
      {{"table", name()}, {"floor", sequence_bound_}, {"previous_floor", sequence_floor_}});
  sequence_floor_ = sequence_bound_;
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> LevelDbTable::NextSequence(uint64_t last) {
  absl::MutexLock l(&sequence_mu_);
  const uint64_t next = std::max(last, sequence_floor_) + 1;
  if (next > sequence_bound_) {
    const uint64_t bound = next + kSequenceReservation;
    if (auto s = files::WriteFileAtomically(env_, sequence_bound_path_, absl::StrCat(bound, "\n"));
        !s.ok()) {
      return absl::UnavailableError(
          absl::StrCat("cannot record the sequence bound of table ", name(), ": ", s.message()));
    }
    sequence_bound_ = bound;
  }
  return next;
}

absl::StatusOr<std::string> LevelDbTable::EnsureGeneration() {
  const std::string path = absl::StrCat(options_.dir, "/", kGenerationFile);
  absl::StatusOr<std::string> generation = files::ReadFile(env_, path);
  if (generation.ok() || !absl::IsNotFound(generation.status())) return generation;
  absl::StatusOr<std::string> fresh = ids::RandomHex(16);
  if (!fresh.ok()) return fresh.status();
  if (auto s = files::WriteFileAtomically(env_, path, *fresh); !s.ok()) return s;
  return fresh;
}

uint64_t LevelDbTable::OldestLogNumber() const {
  std::vector<std::string> children;
  if (!env_->GetChildren(options_.dir, &children).ok()) return 0;
  uint64_t oldest = 0;
  for (const std::string& f : children) {
    std::optional<uint64_t> n = LogFileNumber(f);
    if (n.has_value() && (oldest == 0 || *n < oldest)) oldest = *n;
  }
  return oldest;
}

void LevelDbTable::SetStateFromMarkers() {
  absl::MutexLock l(&state_mu_);
  if (env_->FileExists(absl::StrCat(options_.dir, "/", kRestoringMarkerFile))) {
    state_ = TABLE_STATE_RESTORING;
    state_reason_ = "installed by a restore, not yet verified";
  } else if (env_->FileExists(absl::StrCat(options_.dir, "/", kDegradedMarkerFile))) {
    state_ = TABLE_STATE_DEGRADED;
    state_reason_ = "restored empty: no usable backup (corrupted files are in quarantine)";
  } else {
    state_ = TABLE_STATE_OK;
    state_reason_.clear();
  }
}

std::string LevelDbTable::EvidenceOfData() const {
  leveldb::Env* files = wal_env_->target();
  if (files->FileExists(sequence_bound_path_)) {
    return absl::StrCat("it has issued sequence numbers (", sequence_bound_path_, ")");
  }
  if (options_.wal_ship_root.empty()) return "";
  std::vector<std::string> generations;
  if (!files->GetChildren(options_.wal_ship_root, &generations).ok()) return "";
  for (const std::string& g : generations) {
    if (g == "." || g == "..") continue;
    const std::string dir = absl::StrCat(options_.wal_ship_root, "/", g);
    for (const WalLog& log : ListWalLogs(files, dir, 0)) {
      uint64_t size = 0;
      if (files->GetFileSize(log.path, &size).ok() && size > 0) {
        return absl::StrCat("its write-ahead logs were shipped to ", dir);
      }
    }
  }
  return "";
}

std::string LevelDbTable::FileWithoutCurrent() const {
  if (env_->FileExists(absl::StrCat(options_.dir, "/CURRENT"))) return "";
  std::vector<std::string> children;
  if (!env_->GetChildren(options_.dir, &children).ok()) return "";
  for (const std::string& f : children) {
    if (absl::StartsWith(f, "MANIFEST-") || absl::EndsWith(f, ".ldb") ||
        absl::EndsWith(f, ".sst") || absl::EndsWith(f, ".log")) {
      return f;
    }
  }
  return "";
}

absl::Status LevelDbTable::LoadOrRecountStats() {
  std::string bytes;
  leveldb::Status s = db_->Get(CheckedRead(), ToSlice(internal::kStatsKey), &bytes);
  if (!s.ok() && !IsAbsentKey(s)) return Classify(s, "open");
  std::optional<internal::StoredStats> stored;
  if (s.ok()) stored = internal::DecodeStats(bytes);
  if ((!stored || !stored->clean) && state() == TABLE_STATE_RESTORING) {
    // Writes replayed onto a restored backup: FinishRestore's traversal
    // counts them, and nothing is served before it.
    records_ = 0;
    logical_bytes_ = 0;
    counted_ = false;
    return absl::OkStatus();
  }
  if (!stored || !stored->clean) {
    const absl::Time start = absl::Now();
    internal::StoredStats counted;
    s = ForEachData(db_.get(), CheckedRead(false), "", "",
                    [&](absl::string_view k, absl::string_view v) {
                      ++counted.records;
                      counted.logical_bytes += k.size() + v.size();
                      return true;
                    });
    if (!s.ok()) return Classify(s, "open");
    if (stored.has_value() || counted.records > 0) {
      log::Warn("table was not closed cleanly; recounted",
                {{"table", name()},
                 {"records", counted.records},
                 {"seconds", absl::ToDoubleSeconds(absl::Now() - start)}});
    }
    stored = counted;
  }
  records_ = static_cast<int64_t>(stored->records);
  logical_bytes_ = static_cast<int64_t>(stored->logical_bytes);
  counted_ = true;
  // Until the next orderly close the checkpoint is stale.
  internal::StoredStats dirty = *stored;
  dirty.clean = false;
  leveldb::WriteOptions sync;
  sync.sync = true;
  return Classify(db_->Put(sync, ToSlice(internal::kStatsKey), internal::EncodeStats(dirty)),
                  "open");
}

absl::Status LevelDbTable::ReopenAfterWriteError() {
  CloseAnnouncement closing(this);
  absl::MutexLock l(&db_mu_);
  if (!needs_reopen_) return absl::OkStatus();
  // Reopening writes a new log, a level-0 table from the old log and a new
  // MANIFEST; with the disk still full that fails and would close the table
  // for reads as well, so wait for room (and do not spin on the disk).
  std::error_code ec;
  const auto space = std::filesystem::space(options_.dir, ec);
  const uintmax_t needed = (uintmax_t{options_.storage.write_buffer_mb()} << 21) + (1 << 20);
  const absl::Time now = absl::Now();
  if (ec || space.available < needed || now - last_reopen_attempt_ < absl::Milliseconds(200)) {
    return absl::ResourceExhaustedError(
        absl::StrCat("table ", name(), ": a write failed (disk full?); writes resume once ",
                     needed >> 20, " MiB are free in ", options_.dir));
  }
  last_reopen_attempt_ = now;
  CloseLocked();
  if (auto s = OpenLocked(); !s.ok()) return s;
  needs_reopen_ = false;
  log::Info("table reopened after a failed write", {{"table", name()}});
  return absl::OkStatus();
}

void LevelDbTable::CloseLocked() {
  if (!db_) return;
  // After a failed write the log may replay a write the caller saw fail, so
  // the counts are recounted at the next open instead of checkpointed.
  if (state() != TABLE_STATE_CORRUPTED && !needs_reopen_) {
    internal::StoredStats stats{static_cast<uint64_t>(records_.load()),
                                static_cast<uint64_t>(logical_bytes_.load()), true};
    leveldb::WriteOptions sync;
    sync.sync = true;
    leveldb::Status s = db_->Put(sync, ToSlice(internal::kStatsKey), internal::EncodeStats(stats));
    if (!s.ok()) {
      log::Warn("could not checkpoint table statistics; they will be recounted",
                {{"table", name()}, {"error", s.ToString()}});
    }
  }
  db_.reset();
  ++open_count_;
}

TableState LevelDbTable::state() const {
  absl::MutexLock l(&state_mu_);
  return state_;
}

absl::Status LevelDbTable::CheckServing() const {
  absl::MutexLock l(&state_mu_);
  if (!db_ && state_ != TABLE_STATE_CORRUPTED && state_ != TABLE_STATE_RESTORING) {
    return absl::UnavailableError(
        absl::StrCat("table ", name(), " is not open (reopening failed); retry later"));
  }
  return NotServingLocked();
}

absl::Status LevelDbTable::RefuseEarly() const {
  absl::MutexLock l(&state_mu_);
  return NotServingLocked();
}

absl::Status LevelDbTable::NotServingLocked() const {
  if (state_ == TABLE_STATE_CORRUPTED || state_ == TABLE_STATE_RESTORING) {
    return absl::UnavailableError(absl::StrCat(
        "table ", name(), " is ", state_ == TABLE_STATE_RESTORING ? "being restored" : "corrupted",
        state_reason_.empty() ? "" : absl::StrCat(" (", state_reason_, ")"), "; retry later"));
  }
  return absl::OkStatus();
}

absl::Status LevelDbTable::CheckReadable() const {
  {
    absl::MutexLock l(&state_mu_);
    if (state_ == TABLE_STATE_RESTORING && db_) return absl::OkStatus();
  }
  return CheckServing();
}

void LevelDbTable::MarkCorrupted(const std::string& reason) {
  {
    absl::MutexLock l(&state_mu_);
    if (state_ == TABLE_STATE_CORRUPTED || state_ == TABLE_STATE_RESTORING) return;
    state_ = TABLE_STATE_CORRUPTED;
    state_reason_ = reason;
  }
  log::Error("table corrupted", {{"table", name()}, {"reason", reason}});
  if (options_.listener != nullptr) {
    std::optional<uint64_t> records;
    if (counted_) records = static_cast<uint64_t>(std::max<int64_t>(0, records_.load()));
    options_.listener->OnCorruption(name(), reason, records);
  }
}

namespace {

bool NamesTableFile(const std::string& text) {
  return absl::StrContains(text, ".ldb") || absl::StrContains(text, ".sst");
}

}  // namespace

bool LevelDbTable::IsAbsentKey(const leveldb::Status& s) {
  return s.IsNotFound() && !NamesTableFile(s.ToString());
}

bool LevelDbTable::IsDamagedFile(const leveldb::Status& s) {
  const std::string text = s.ToString();
  // A table file that is gone (ENOENT: LevelDB says NotFound, which a Get
  // would otherwise take for an absent key) or shorter than its index says
  // (reads past its end fail with EINVAL) is damage, not a disk error.
  return NamesTableFile(text) && ((s.IsNotFound() && absl::StrContains(text, "No such file")) ||
                                  (s.IsIOError() && absl::StrContains(text, "Invalid argument")));
}

absl::Status LevelDbTable::Classify(const leveldb::Status& s, absl::string_view op) {
  if (s.ok()) return absl::OkStatus();
  const std::string text = s.ToString();
  if (s.IsCorruption() || IsDamagedFile(s)) {
    MarkCorrupted(text);
    return absl::UnavailableError(absl::StrCat("table ", name(), " is corrupted (", text,
                                               "); a restore has been requested, retry later"));
  }
  if (s.IsNotFound()) return absl::NotFoundError(absl::StrCat("table ", name(), ": ", text));
  if (absl::StrContains(text, "No space left")) {
    return absl::ResourceExhaustedError(
        absl::StrCat("table ", name(), ": disk full during ", op, ": ", text));
  }
  if (s.IsIOError()) {
    return absl::UnavailableError(
        absl::StrCat("table ", name(), ": I/O error during ", op, ": ", text));
  }
  return absl::InternalError(absl::StrCat("table ", name(), ": ", op, ": ", text));
}

absl::StatusOr<std::optional<std::string>> LevelDbTable::Get(absl::string_view key) {
  if (auto s = RefuseEarly(); !s.ok()) return s;
  absl::ReaderMutexLock l(&db_mu_);
  if (auto s = CheckServing(); !s.ok()) return s;
  std::string value;
  leveldb::Status s = db_->Get(CheckedRead(), internal::DataKey(key), &value);
  if (IsAbsentKey(s)) return std::optional<std::string>();
  if (!s.ok()) return Classify(s, "get");
  return std::optional<std::string>(std::move(value));
}

absl::Status LevelDbTable::Put(absl::string_view key, absl::string_view value) {
  TableBatch batch;
  batch.Put(key, value);
  return Write(batch);
}

absl::Status LevelDbTable::Delete(absl::string_view key) {
  TableBatch batch;
  batch.Delete(key);
  return Write(batch);
}

namespace {

size_t BatchBytes(const TableBatch& batch) {
  size_t bytes = 0;
  for (const auto& op : batch.ops()) bytes += op.key.size() + (op.value ? op.value->size() : 0);
  return bytes;
}

}  // namespace

absl::Status LevelDbTable::Write(const TableBatch& batch) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  if (batch.empty()) return absl::OkStatus();
  if (auto s = RefuseEarly(); !s.ok()) return s;
  if (needs_reopen_) {
    if (auto s = ReopenAfterWriteError(); !s.ok()) return s;
  }
  PendingWrite self;
  self.batch = &batch;
  self.bytes = BatchBytes(batch);
  std::vector<std::unique_ptr<PendingWrite>> finished;
  {
    absl::ReaderMutexLock l(&db_mu_);
    if (auto s = CheckServing(); !s.ok()) return s;
    self.opened = open_count_;
    absl::MutexLock q(&commit_mu_);
    commit_queue_.push_back(&self);
    struct Turn {
      LevelDbTable* table;
      PendingWrite* self;
    } turn{this, &self};
    // Leads when at the head, or when an asynchronous write is (the
    // committer thread may be held by a Reopen that waits for this writer's
    // share of db_mu_).
    const absl::Condition my_turn(
        +[](Turn* t) ABSL_NO_THREAD_SAFETY_ANALYSIS {
          return t->self->done || t->table->AsyncAtHeadLocked() ||
                 (!t->table->committing_ && t->table->commit_queue_.front() == t->self);
        },
        &turn);
    while (true) {
      commit_mu_.Await(my_turn);
      if (self.done) break;
      std::vector<PendingWrite*> group = TakeGroupLocked();
      commit_mu_.Unlock();
      for (auto& w : CommitAndFinish(std::move(group))) finished.push_back(std::move(w));
      commit_mu_.Lock();
    }
  }
  for (auto& w : finished) w->on_done(w->status);
  return self.status;
}

void LevelDbTable::WriteAsync(TableBatch batch, WriteDone done) {
  if (batch.empty()) return done(absl::OkStatus());
  if (auto s = RefuseEarly(); !s.ok()) return done(s);
  if (needs_reopen_) {
    if (auto s = ReopenAfterWriteError(); !s.ok()) return done(s);
  }
  auto w = std::make_unique<PendingWrite>();
  w->owned = std::move(batch);
  w->batch = &w->owned;
  w->bytes = BatchBytes(w->owned);
  w->on_done = std::move(done);
  absl::Status refused;
  {
    absl::ReaderMutexLock l(&db_mu_);
    refused = CheckServing();
    if (refused.ok()) {
      w->opened = open_count_;
      absl::MutexLock q(&commit_mu_);
      if (!committer_.joinable()) committer_ = std::thread([this] { CommitLoop(); });
      commit_queue_.push_back(w.release());
      return;
    }
  }
  w->on_done(refused);
}

LevelDbTable::CloseAnnouncement::CloseAnnouncement(LevelDbTable* table) : table_(table) {
  absl::MutexLock q(&table_->commit_mu_);
  ++table_->closes_announced_;
}

LevelDbTable::CloseAnnouncement::~CloseAnnouncement() {
  absl::MutexLock q(&table_->commit_mu_);
  --table_->closes_announced_;
}

bool LevelDbTable::AsyncAtHeadLocked() const {
  return !committing_ && !commit_queue_.empty() && commit_queue_.front()->on_done != nullptr;
}

void LevelDbTable::CommitLoop() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  while (true) {
    {
      absl::MutexLock q(&commit_mu_);
      commit_mu_.Await(absl::Condition(
          +[](LevelDbTable* t) ABSL_NO_THREAD_SAFETY_ANALYSIS {
            return t->committer_stopping_ || (t->AsyncAtHeadLocked() && t->closes_announced_ == 0);
          },
          this));
      // Stopping with nothing asynchronous left to commit.
      if (!AsyncAtHeadLocked()) return;
    }
    // db_mu_ before claiming a group, so the committer never waits for it
    // while the queue waits for the committer.
    std::vector<std::unique_ptr<PendingWrite>> finished;
    {
      absl::ReaderMutexLock l(&db_mu_);
      std::vector<PendingWrite*> group;
      {
        absl::MutexLock q(&commit_mu_);
        if (!AsyncAtHeadLocked()) continue;
        group = TakeGroupLocked();
      }
      finished = CommitAndFinish(std::move(group));
    }
    for (auto& w : finished) w->on_done(w->status);
  }
}

std::vector<LevelDbTable::PendingWrite*> LevelDbTable::TakeGroupLocked() {
  committing_ = true;
  std::vector<PendingWrite*> group;
  size_t bytes = 0;
  while (!commit_queue_.empty() &&
         (group.empty() || bytes + commit_queue_.front()->bytes <= kMaxGroupBytes)) {
    bytes += commit_queue_.front()->bytes;
    group.push_back(commit_queue_.front());
    commit_queue_.pop_front();
  }
  return group;
}

std::vector<std::unique_ptr<LevelDbTable::PendingWrite>> LevelDbTable::CommitAndFinish(
    std::vector<PendingWrite*> group) {
  CommitGroup(group);
  std::vector<std::unique_ptr<PendingWrite>> finished;
  absl::MutexLock q(&commit_mu_);
  for (PendingWrite* w : group) {
    if (w->on_done) {
      finished.emplace_back(w);
    } else {
      w->done = true;
    }
  }
  committing_ = false;
  return finished;
}

void LevelDbTable::CommitGroup(const std::vector<PendingWrite*>& group) {
  std::vector<PendingWrite*> current_open;
  for (PendingWrite* w : group) {
    if (w->opened == open_count_) {
      current_open.push_back(w);
    } else {
      w->status = absl::UnavailableError(absl::StrCat(
          "table ", name(), " was reopened while the write waited to commit; retry it"));
    }
  }
  if (current_open.empty()) return;
  const absl::Status result = Classify(WriteGroup(current_open), "write");
  for (PendingWrite* w : current_open) w->status = result;
}

leveldb::Status LevelDbTable::WriteGroup(const std::vector<PendingWrite*>& group) {
  // Size of each key's value as the group leaves it (nullopt: absent).
  absl::flat_hash_map<absl::string_view, std::optional<size_t>> current;
  int64_t d_records = 0;
  int64_t d_bytes = 0;
  leveldb::WriteBatch wb;
  if (options_.record_commit_times) {
    const int64_t micros = std::max(absl::ToUnixMicros(clock_->Now()), last_commit_micros_.load());
    last_commit_micros_ = micros;
    wb.Put(ToSlice(internal::kCommitTimeKey), EncodeU64(static_cast<uint64_t>(micros)));
  }
  leveldb::Status s;
  for (const PendingWrite* w : group) {
    for (const auto& op : w->batch->ops()) {
      std::optional<size_t> old;
      auto it = current.find(op.key);
      if (it != current.end()) {
        old = it->second;
      } else {
        std::string value;
        s = db_->Get(CheckedRead(), internal::DataKey(op.key), &value);
        if (s.ok()) {
          old = value.size();
        } else if (!IsAbsentKey(s)) {
          break;
        }
        s = leveldb::Status::OK();
      }
      std::optional<size_t> now;
      if (op.value) now = op.value->size();
      d_records += (now ? 1 : 0) - (old ? 1 : 0);
      d_bytes += (now ? static_cast<int64_t>(op.key.size() + *now) : 0) -
                 (old ? static_cast<int64_t>(op.key.size() + *old) : 0);
      current[op.key] = now;
      if (op.value) {
        wb.Put(internal::DataKey(op.key), ToSlice(*op.value));
      } else {
        wb.Delete(internal::DataKey(op.key));
      }
    }
    if (!s.ok()) break;
  }
  if (s.ok()) {
    leveldb::WriteOptions wo;
    wo.sync = options_.storage.durability() != DURABILITY_BUFFERED;
    s = db_->Write(wo, &wb);
    if (s.ok()) {
      records_ += d_records;
      logical_bytes_ += d_bytes;
      if (!wo.sync) unsynced_ = true;
    } else if (s.IsIOError()) {
      needs_reopen_ = true;
    }
  }
  return s;
}

absl::Status LevelDbTable::Scan(
    absl::string_view start, absl::string_view limit,
    const std::function<bool(absl::string_view, absl::string_view)>& visit) {
  if (auto s = RefuseEarly(); !s.ok()) return s;
  absl::ReaderMutexLock l(&db_mu_);
  if (auto s = CheckServing(); !s.ok()) return s;
  return Classify(ForEachData(db_.get(), CheckedRead(), start, limit, visit), "scan");
}

TableStats LevelDbTable::Stats() {
  TableStats stats;
  stats.set_table(name());
  {
    absl::MutexLock l(&state_mu_);
    stats.set_state(state_);
    stats.set_state_reason(state_reason_);
  }
  const uint64_t records = static_cast<uint64_t>(std::max<int64_t>(0, records_.load()));
  const uint64_t logical = static_cast<uint64_t>(std::max<int64_t>(0, logical_bytes_.load()));
  stats.set_records(records);
  stats.set_live_bytes(logical + records * internal::kRecordOverheadBytes);
  uint64_t disk = 0;
  std::vector<std::string> files;
  if (env_->GetChildren(options_.dir, &files).ok()) {
    for (const auto& f : files) {
      uint64_t size = 0;
      if (CountsTowardsDisk(f) &&
          env_->GetFileSize(absl::StrCat(options_.dir, "/", f), &size).ok()) {
        disk += size;
      }
    }
  }
  stats.set_disk_bytes(disk);
  const std::string archive = absl::StrCat(options_.dir, "/", kWalArchiveDir);
  if (std::vector<std::string> logs; env_->GetChildren(archive, &logs).ok()) {
    for (const auto& f : logs) {
      uint64_t size = 0;
      if (LogFileNumber(f).has_value() &&
          env_->GetFileSize(absl::StrCat(archive, "/", f), &size).ok()) {
        stats.set_wal_archive_logs(stats.wal_archive_logs() + 1);
        stats.set_wal_archive_bytes(stats.wal_archive_bytes() + size);
      }
    }
  }
  if (shipper_) {
    const ShipProgress shipping = shipper_->Progress();
    stats.set_wal_shipped_bytes(shipping.shipped_bytes);
    stats.set_wal_ship_lag_bytes(shipping.lag_bytes);
    if (shipping.shipped_through != absl::InfinitePast()) {
      stats.set_wal_shipped_through_unix_seconds(absl::ToUnixMillis(shipping.shipped_through) /
                                                 1000.0);
    }
    stats.set_wal_ship_lag_seconds(absl::ToDoubleSeconds(shipping.lag));
    stats.set_wal_ship_failures(shipping.failures);
    stats.set_wal_ship_error(shipping.last_error);
  }
  double ratio = 0;
  const uint64_t kept = stats.live_bytes() + internal::kUnreclaimableBytes;
  if (disk > kept) {
    ratio = static_cast<double>(disk - kept) / static_cast<double>(disk);
  }
  stats.set_fragmentation_ratio(std::clamp(ratio, 0.0, 1.0));
  stats.set_durability(options_.storage.durability());
  return stats;
}

absl::Status LevelDbTable::Compact() {
  absl::ReaderMutexLock l(&db_mu_);
  if (auto s = CheckServing(); !s.ok()) return s;
  db_->CompactRange(nullptr, nullptr);
  // CompactRange reports nothing; an error it hit (corruption found while
  // merging, with paranoid checks) is returned by the next write.
  leveldb::WriteBatch empty;
  leveldb::WriteOptions sync;
  sync.sync = true;
  return Classify(db_->Write(sync, &empty), "compact");
}

absl::StatusOr<VerifyResult> LevelDbTable::Verify() {
  absl::ReaderMutexLock l(&db_mu_);
  if (auto s = CheckReadable(); !s.ok()) return s;
  return VerifyLocked();
}

absl::StatusOr<VerifyResult> LevelDbTable::FinishRestore(const RestoreExpectation& expected) {
  // Exclusive: nothing else uses the table while its state changes.
  absl::MutexLock l(&db_mu_);
  if (state() != TABLE_STATE_RESTORING || !db_) {
    return absl::FailedPreconditionError(
        absl::StrCat("table ", name(), " is ", StateName(state()), ", not being restored"));
  }
  uint64_t logical_bytes = 0;
  absl::StatusOr<VerifyResult> found = VerifyLocked(&logical_bytes);
  if (!found.ok()) {
    return absl::DataLossError(absl::StrCat(
        "table ", name(), ": the restored table does not verify: ", found.status().message()));
  }
  const bool count_differs =
      expected.record_count.has_value() && found->record_count != *expected.record_count;
  if (count_differs ||
      (!expected.content_hash.empty() && found->content_hash != expected.content_hash)) {
    return absl::DataLossError(absl::StrCat(
        "table ", name(), ": the restored table holds ", found->record_count,
        " records with content hash ", found->content_hash.substr(0, 16), "; expected ",
        expected.record_count.has_value() ? absl::StrCat(*expected.record_count) : "any number",
        " with ",
        expected.content_hash.empty() ? "any hash" : expected.content_hash.substr(0, 16)));
  }
  if (expected.records_at_corruption.has_value() &&
      *expected.records_at_corruption != found->record_count) {
    if (auto r = RaiseSequenceFloor(); !r.ok()) return r;
  }
  // The traversal counted every record: the statistics are exact.
  records_ = static_cast<int64_t>(found->record_count);
  logical_bytes_ = static_cast<int64_t>(logical_bytes);
  counted_ = true;
  if (auto s =
          files::RemoveFileDurably(env_, absl::StrCat(options_.dir, "/", kRestoringMarkerFile));
      !s.ok()) {
    return s;
  }
  SetStateFromMarkers();
  log::Info("restored table verified; serving",
            {{"table", name()}, {"records", found->record_count}});
  return found;
}

absl::StatusOr<VerifyResult> LevelDbTable::VerifyLocked(uint64_t* logical_bytes) {
  internal::ContentHasher hasher;
  leveldb::Status s = internal::HashRecords(db_.get(), &hasher);
  if (s.IsCorruption()) {
    MarkCorrupted(s.ToString());
    return absl::DataLossError(
        absl::StrCat("table ", name(), " failed verification: ", s.ToString()));
  }
  if (!s.ok()) return Classify(s, "verify");
  if (logical_bytes != nullptr) *logical_bytes = hasher.logical_bytes();
  return VerifyResult{hasher.count(), hasher.HexDigest()};
}

absl::StatusOr<BackupManifest> LevelDbTable::Snapshot(const std::string& backup_root) {
  absl::MutexLock one_at_a_time(&snapshot_mu_);
  // Held until the files are copied: no file the listing names goes away.
  DeletionHold hold(wal_env_.get());
  FileBackupSource source;
  {
    // The one moment writes pause (every write holds db_mu_ shared): the
    // logs then end exactly after the last acknowledged batch, and the
    // record count is exact for them (file_backup.h).
    absl::MutexLock l(&db_mu_);
    if (auto s = CheckServing(); !s.ok()) return s;
    absl::StatusOr<std::string> generation = EnsureGeneration();
    if (!generation.ok()) return generation.status();
    absl::StatusOr<LiveFiles> files =
        ListLiveFiles(env_, options_.dir,
                      [this](const std::string& path) { return wal_env_->IsBeingWritten(path); });
    if (!files.ok()) return files.status();
    source = {.table = name(),
              .dir = options_.dir,
              .files = *std::move(files),
              .generation = *generation,
              .first_log_number = OldestLogNumber(),
              .record_count = static_cast<uint64_t>(records_.load()),
              .logical_bytes = static_cast<uint64_t>(logical_bytes_.load()),
              // Not before any commit time the backup holds, so that a
              // point-in-time restore can choose backups by time alone.
              .time = std::max(clock_->Now(), absl::FromUnixMicros(last_commit_micros_.load()))};
  }
  // The copy takes idle CPU first: it runs on a thread of its own at a
  // lower priority (nice 10), so agents' writes keep their latency.
  absl::StatusOr<BackupManifest> manifest = absl::UnknownError("not run");
  std::thread copier([&] {
    SetThisThreadNice(kBackgroundNice);
    manifest = WriteFileBackup(env_, backup_root, source);
  });
  copier.join();
  if (absl::IsDataLoss(manifest.status())) MarkCorrupted(std::string(manifest.status().message()));
  return manifest;
}

absl::Status LevelDbTable::Reopen(bool repair) {
  CloseAnnouncement closing(this);
  absl::MutexLock l(&db_mu_);
  CloseLocked();
  if (repair) {
    leveldb::Options o;
    o.env = env_;
    leveldb::Status s = leveldb::RepairDB(options_.dir, o);
    if (!s.ok()) return Classify(s, "repair");
    log::Warn("table repaired with leveldb::RepairDB", {{"table", name()}});
  }
  {
    absl::MutexLock sl(&state_mu_);
    state_ = TABLE_STATE_OK;
    state_reason_.clear();
  }
  return OpenLocked(repair);
}

void LevelDbTable::FlushLoop() {
  const absl::Duration interval = absl::Milliseconds(options_.storage.flush_interval_ms());
  while (true) {
    {
      absl::MutexLock l(&flush_mu_);
      if (flush_mu_.AwaitWithTimeout(absl::Condition(&stopping_), interval)) return;
    }
    if (!unsynced_.exchange(false)) continue;
    absl::ReaderMutexLock l(&db_mu_);
    if (!db_) continue;
    leveldb::WriteBatch empty;
    leveldb::WriteOptions sync;
    sync.sync = true;
    leveldb::Status flushed = db_->Write(sync, &empty);
    if (flushed.IsIOError()) needs_reopen_ = true;
    absl::Status s = Classify(flushed, "flush");
    if (!s.ok()) {
      unsynced_ = true;
      log::Warn("background flush failed",
                {{"table", name()}, {"error", std::string(s.message())}});
    }
  }
}

absl::StatusOr<std::unique_ptr<Table>> OpenTable(const TableOptions& options) {
  auto table = std::make_unique<LevelDbTable>(options);
  if (auto s = table->Open(); !s.ok()) return s;
  return table;
}

}  // namespace agentcom::storage
