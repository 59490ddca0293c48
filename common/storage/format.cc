#include "common/storage/format.h"

#include <leveldb/db.h>

#include <memory>

#include "absl/strings/escaping.h"

namespace agentcom::storage::internal {
namespace {

void PutFixed64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t GetFixed64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

void PutVarint32(std::string* out, uint32_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

}  // namespace

std::string EncodeStats(const StoredStats& stats) {
  std::string out;
  out.push_back(1);  // version
  PutFixed64(&out, stats.records);
  PutFixed64(&out, stats.logical_bytes);
  out.push_back(stats.clean ? 1 : 0);
  return out;
}

std::optional<StoredStats> DecodeStats(absl::string_view bytes) {
  if (bytes.size() != 18 || bytes[0] != 1) return std::nullopt;
  StoredStats s;
  s.records = GetFixed64(bytes.data() + 1);
  s.logical_bytes = GetFixed64(bytes.data() + 9);
  s.clean = bytes[17] == 1;
  return s;
}

ContentHasher::~ContentHasher() { Drain(); }

void ContentHasher::Add(absl::string_view key, absl::string_view value) {
  PutVarint32(&chunk_, static_cast<uint32_t>(key.size()));
  chunk_.append(key.data(), key.size());
  PutVarint32(&chunk_, static_cast<uint32_t>(value.size()));
  chunk_.append(value.data(), value.size());
  ++count_;
  logical_bytes_ += key.size() + value.size();
  if (chunk_.size() >= kChunkBytes) HandOver();
}

void ContentHasher::HandOver() {
  if (!worker_.joinable()) worker_ = std::thread([this] { HashLoop(); });
  absl::MutexLock l(&mu_);
  mu_.Await(absl::Condition(
      +[](std::deque<std::string>* full) { return full->size() < kChunksInFlight; }, &full_));
  full_.push_back(std::move(chunk_));
  chunk_.clear();
  chunk_.reserve(kChunkBytes + 1024);
}

void ContentHasher::HashLoop() {
  while (true) {
    std::string chunk;
    {
      absl::MutexLock l(&mu_);
      mu_.Await(absl::Condition(
          +[](ContentHasher* h)
               ABSL_NO_THREAD_SAFETY_ANALYSIS { return !h->full_.empty() || h->closed_; },
          this));
      if (full_.empty()) return;
      chunk = std::move(full_.front());
      full_.pop_front();
    }
    sha_.Update(chunk);
  }
}

void ContentHasher::Drain() {
  if (!worker_.joinable()) return;
  {
    absl::MutexLock l(&mu_);
    closed_ = true;
  }
  worker_.join();
}

std::string ContentHasher::HexDigest() {
  Drain();  // every chunk handed over is hashed, in order
  sha_.Update(chunk_);
  chunk_.clear();
  return sha_.HexDigest();
}

leveldb::Status HashRecords(leveldb::DB* db, ContentHasher* hasher) {
  leveldb::ReadOptions ro;
  ro.verify_checksums = true;
  ro.fill_cache = false;
  std::unique_ptr<leveldb::Iterator> it(db->NewIterator(ro));
  for (it->Seek(leveldb::Slice(&kDataPrefix, 1));
       it->Valid() && !it->key().empty() && it->key()[0] == kDataPrefix; it->Next()) {
    hasher->Add(absl::string_view(it->key().data() + 1, it->key().size() - 1),
                absl::string_view(it->value().data(), it->value().size()));
  }
  return it->status();
}

}  // namespace agentcom::storage::internal
