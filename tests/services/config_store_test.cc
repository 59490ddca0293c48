// Config store semantics (issue 2, item 8): versions, compare-and-set,
// delete, paged List with tamper-checked tokens, bad input.
#include "services/config/config_store.h"

#include <algorithm>
#include <numeric>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "common/server/api_checks.h"
#include "common/storage/records.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_support.h"

namespace agentcom::config_store {
namespace {

using ::testing::HasSubstr;

class ConfigStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    limits_.set_max_body_bytes(100);
    limits_.set_max_id_bytes(64);
    table_ = testing::OpenTestTable(dir_.path(), kConfigTable, common::v1::DURABILITY_SYNC);
    store_ = std::make_unique<ConfigStore>(table_.get(), limits_, &clock_);
  }
  absl::StatusOr<v1::Entry> Put(const std::string& k, const std::string& v,
                                std::optional<uint64_t> expected = std::nullopt) {
    v1::PutRequest r;
    r.set_key(k);
    r.set_value(v);
    if (expected) r.set_expected_version(*expected);
    return store_->Put(r);
  }
  absl::StatusOr<v1::Entry> Get(const std::string& k) {
    v1::GetRequest r;
    r.set_key(k);
    return store_->Get(r);
  }

  testing::TempDir dir_;
  ManualClock clock_;
  topology::v1::Limits limits_;
  std::unique_ptr<storage::Table> table_;
  std::unique_ptr<ConfigStore> store_;
};

TEST_F(ConfigStoreTest, PutGetVersions) {
  EXPECT_EQ(Put("agents/alice/model", "m1")->version(), 1u);
  EXPECT_EQ(Put("agents/alice/model", "m2")->version(), 2u);
  auto e = Get("agents/alice/model");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->value(), "m2");
  EXPECT_EQ(e->version(), 2u);
  EXPECT_EQ(server::FromProtoTime(e->update_time()), clock_.Now());
  auto missing = Get("nope");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("key nope"));
}

TEST_F(ConfigStoreTest, CompareAndSet) {
  EXPECT_TRUE(Put("k", "v1", 0).ok());  // 0: must not exist
  auto exists = Put("k", "again", 0);
  EXPECT_EQ(exists.status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(exists.status().message(), HasSubstr("key k is at version 1, not 0"));
  EXPECT_EQ(Put("k", "v2", 1)->version(), 2u);
  EXPECT_EQ(Put("k", "stale", 1).status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(Get("k")->value(), "v2");
}

TEST_F(ConfigStoreTest, ConcurrentCompareAndSetHasOneWinnerPerVersion) {
  ASSERT_TRUE(Put("counter", "0").ok());
  std::atomic<int> wins{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        auto cur = Get("counter");
        if (Put("counter", "x", cur->version()).ok()) ++wins;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(Get("counter")->version(), 1u + wins);
}

// Puts answered when they commit (PutAsync, what the gRPC service runs)
// and queued faster than they commit take consecutive versions, and a
// compare-and-set or delete behind them sees the version they leave.
TEST_F(ConfigStoreTest, PutsQueuedWithoutWaitingTakeConsecutiveVersions) {
  constexpr int kPuts = 100;
  absl::Mutex mu;
  std::vector<uint64_t> versions;
  int pending = kPuts;
  for (int i = 0; i < kPuts; ++i) {
    v1::PutRequest r;
    r.set_key("k");
    r.set_value(absl::StrCat("v", i));
    store_->PutAsync(r, [&](absl::StatusOr<v1::Entry> e) {
      absl::MutexLock l(&mu);
      versions.push_back(e.ok() ? e->version() : 0);
      --pending;
    });
  }
  // Checked against the 100 puts queued before it, committed or not.
  EXPECT_EQ(Put("k", "cas", kPuts - 1).status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(Put("k", "cas", kPuts)->version(), kPuts + 1u);
  {
    absl::MutexLock l(&mu);
    mu.Await(absl::Condition(
        +[](int* p) { return *p == 0; }, &pending));
    std::vector<uint64_t> expected(kPuts);
    std::iota(expected.begin(), expected.end(), 1);
    std::sort(versions.begin(), versions.end());
    EXPECT_EQ(versions, expected);
  }
  EXPECT_EQ(Get("k")->value(), "cas");
  v1::PutRequest after;
  after.set_key("k");
  after.set_value("queued");
  store_->PutAsync(after, [](absl::StatusOr<v1::Entry>) {});
  v1::DeleteRequest d;
  d.set_key("k");
  d.set_expected_version(kPuts + 2);
  EXPECT_TRUE(store_->Delete(d).ok());
  EXPECT_EQ(Put("k", "new")->version(), 1u);
}

TEST_F(ConfigStoreTest, Delete) {
  ASSERT_TRUE(Put("k", "v").ok());
  v1::DeleteRequest d;
  d.set_key("k");
  d.set_expected_version(7);
  EXPECT_EQ(store_->Delete(d).code(), absl::StatusCode::kAborted);
  d.set_expected_version(1);
  EXPECT_TRUE(store_->Delete(d).ok());
  EXPECT_EQ(store_->Delete(d).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Get("k").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ConfigStoreTest, ListPagesThroughAPrefix) {
  for (int i = 0; i < 25; ++i) ASSERT_TRUE(Put(absl::StrFormat("app/%02d", i), "v").ok());
  ASSERT_TRUE(Put("apples", "not in app/").ok());
  ASSERT_TRUE(Put("zzz", "v").ok());
  std::vector<std::string> keys;
  v1::ListRequest r;
  r.set_prefix("app/");
  r.set_page_size(10);
  int pages = 0;
  do {
    auto page = store_->List(r);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const auto& e : page->entries()) keys.push_back(e.key());
    r.set_page_token(page->next_page_token());
    ++pages;
  } while (!r.page_token().empty());
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(keys.size(), 25u);
  EXPECT_EQ(keys.front(), "app/00");
  EXPECT_EQ(keys.back(), "app/24");

  v1::ListRequest all;
  EXPECT_EQ(store_->List(all)->entries_size(), 27);
}

TEST_F(ConfigStoreTest, TamperedOrForeignPageTokensAreRejected) {
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Put(absl::StrCat("a/", i), "v").ok());
  v1::ListRequest r;
  r.set_prefix("a/");
  r.set_page_size(2);
  auto page = store_->List(r);
  ASSERT_FALSE(page->next_page_token().empty());

  v1::ListRequest foreign = r;
  foreign.set_prefix("b/");
  foreign.set_page_token(page->next_page_token());
  auto f = store_->List(foreign);
  EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(f.status().message(), HasSubstr("different query"));

  v1::ListRequest garbage = r;
  garbage.set_page_token("!!not-base64!!");
  EXPECT_EQ(store_->List(garbage).status().code(), absl::StatusCode::kInvalidArgument);
  std::string flipped = page->next_page_token();
  flipped[0] = flipped[0] == 'A' ? 'B' : 'A';
  garbage.set_page_token(flipped);
  EXPECT_EQ(store_->List(garbage).status().code(), absl::StatusCode::kInvalidArgument);
  // A well-formed token whose key is outside the prefix.
  garbage.set_page_token(storage::EncodePageToken("a/", "zzz"));
  EXPECT_EQ(store_->List(garbage).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ConfigStoreTest, BadInput) {
  EXPECT_EQ(Put("", "v").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Put("has space", "v").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Put(std::string(65, 'k'), "v").status().code(), absl::StatusCode::kInvalidArgument);
  auto big = Put("k", std::string(101, 'v'));
  EXPECT_EQ(big.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(big.status().message(), HasSubstr("value is 101 bytes; the limit is 100"));
  v1::ListRequest r;
  r.set_page_size(5000);
  EXPECT_EQ(store_->List(r).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(table_->Stats().records(), 0u);
}

}  // namespace
}  // namespace agentcom::config_store
