// Protobuf records and paged scans (common/storage/records.h), over a real
// table.
#include "common/storage/records.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "agentcom/common/v1/table.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_support.h"

namespace agentcom::storage {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class RecordsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    table_ = testing::OpenTestTable(dir_.path(), "records");
    for (int i = 0; i < 25; ++i) {
      ASSERT_TRUE(table_->Put(absl::StrFormat("a/%02d", i), absl::StrCat("v", i)).ok());
    }
    ASSERT_TRUE(table_->Put("b/other", "x").ok());
  }
  // Every key of prefix "a/" page by page.
  std::vector<std::vector<std::string>> Pages(uint32_t size) {
    std::vector<std::vector<std::string>> pages;
    std::string token;
    do {
      std::vector<std::string> page;
      auto next = ScanPage(
          table_.get(),
          {.query = "q", .page_token = token, .prefix = "a/", .limit = "a0", .page_size = size},
          [&](absl::string_view key, absl::string_view) {
            page.emplace_back(key);
            return absl::OkStatus();
          });
      EXPECT_TRUE(next.ok()) << next.status();
      if (!next.ok()) break;
      pages.push_back(page);
      token = *next;
    } while (!token.empty());
    return pages;
  }

  testing::TempDir dir_;
  std::unique_ptr<Table> table_;
};

TEST_F(RecordsTest, PagesCoverTheRangeOnceInOrder) {
  auto pages = Pages(10);
  ASSERT_EQ(pages.size(), 3u);
  EXPECT_EQ(pages[0].front(), "a/00");
  EXPECT_EQ(pages[1].front(), "a/10");
  EXPECT_THAT(pages[2], ElementsAre("a/20", "a/21", "a/22", "a/23", "a/24"));
  EXPECT_EQ(Pages(25).size(), 1u);  // exactly one page: no token
  EXPECT_EQ(Pages(100).size(), 1u);
}

TEST_F(RecordsTest, TokensAreBoundToTheirQueryAndPrefix) {
  auto visit = [](absl::string_view, absl::string_view) { return absl::OkStatus(); };
  auto other_query = ScanPage(table_.get(),
                              {.query = "other",
                               .page_token = EncodePageToken("q", "a/05"),
                               .prefix = "a/",
                               .limit = "a0",
                               .page_size = 5},
                              visit);
  EXPECT_EQ(other_query.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(other_query.status().message(), HasSubstr("different query"));
  auto outside = ScanPage(table_.get(),
                          {.query = "q",
                           .page_token = EncodePageToken("q", "b/other"),
                           .prefix = "a/",
                           .limit = "a0",
                           .page_size = 5},
                          visit);
  EXPECT_EQ(outside.status().code(), absl::StatusCode::kInvalidArgument);
  for (const std::string& garbage :
       {std::string("!!!"), std::string(5000, 'A'), std::string("AAAA")}) {
    auto bad = ScanPage(
        table_.get(), {.query = "q", .page_token = garbage, .prefix = "a/", .limit = "a0"}, visit);
    EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument) << garbage.substr(0, 10);
  }
}

TEST_F(RecordsTest, VisitErrorsStopThePage) {
  int visited = 0;
  auto r = ScanPage(table_.get(), {.query = "q", .prefix = "a/", .limit = "a0", .page_size = 10},
                    [&](absl::string_view, absl::string_view) -> absl::Status {
                      if (++visited == 3) return absl::DataLossError("bad record");
                      return absl::OkStatus();
                    });
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(visited, 3);
}

TEST_F(RecordsTest, ProtobufRecordsReadBackOrAreDataLoss) {
  common::v1::PageToken message;
  message.set_query("stored");
  ASSERT_TRUE(table_->Put("msg", message.SerializeAsString()).ok());
  ASSERT_TRUE(table_->Put("junk", std::string("\x0a\xff\xff\xff\x0f", 5)).ok());
  auto read = GetRecord<common::v1::PageToken>(table_.get(), "msg");
  ASSERT_TRUE(read.ok() && read->has_value());
  EXPECT_EQ((*read)->query(), "stored");
  EXPECT_FALSE(GetRecord<common::v1::PageToken>(table_.get(), "absent")->has_value());
  auto junk = GetRecord<common::v1::PageToken>(table_.get(), "junk");
  EXPECT_EQ(junk.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(junk.status().message(), HasSubstr("table records: unreadable PageToken record"));
  EXPECT_THAT(junk.status().message(), HasSubstr("junk"));
}

}  // namespace
}  // namespace agentcom::storage
