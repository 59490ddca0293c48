// The file steps recovery depends on (common/files), on real files, with
// injected I/O errors; and random ids.
#include "common/files/files.h"

#include <leveldb/env.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "common/ids/random_id.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/faulty_env.h"
#include "tests/support/test_support.h"

namespace agentcom::files {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

leveldb::Env* Env() { return leveldb::Env::Default(); }

TEST(FilesTest, WriteFileAtomicallyReplacesTheWholeContent) {
  testing::TempDir dir;
  const std::string path = dir.Sub("state/history.json");
  ASSERT_TRUE(CreateDirs(Env(), dir.Sub("state")).ok());
  ASSERT_TRUE(WriteFileAtomically(Env(), path, "first").ok());
  ASSERT_TRUE(WriteFileAtomically(Env(), path, "second, longer").ok());
  EXPECT_EQ(*ReadFile(Env(), path), "second, longer");
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  EXPECT_EQ(ReadFile(Env(), dir.Sub("none")).status().code(), absl::StatusCode::kNotFound);
}

TEST(FilesTest, AFailedWriteLeavesTheOldContentAndSaysWhy) {
  testing::TempDir dir;
  const std::string path = dir.Sub("journal.json");
  ASSERT_TRUE(WriteFileAtomically(Env(), path, "old").ok());
  testing::FaultyEnv env;
  env.armed = true;
  absl::Status s = WriteFileAtomically(&env, path, "new");
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(s.message(), HasSubstr("journal.json.tmp"));
  EXPECT_EQ(*ReadFile(Env(), path), "old");
  EXPECT_FALSE(fs::exists(path + ".tmp"));
}

TEST(FilesTest, CreateRenameAndRemoveTrees) {
  testing::TempDir dir;
  ASSERT_TRUE(CreateDirs(Env(), dir.Sub("a/b/c")).ok());
  ASSERT_TRUE(CreateDirs(Env(), dir.Sub("a/b/c")).ok());  // exists: OK
  std::ofstream(dir.Sub("a/b/c/file")) << "x";
  std::ofstream(dir.Sub("a/top")) << "y";
  ASSERT_TRUE(RenameDurably(Env(), dir.Sub("a"), dir.Sub("moved")).ok());
  EXPECT_TRUE(fs::exists(dir.Sub("moved/b/c/file")));
  EXPECT_EQ(RenameDurably(Env(), dir.Sub("a"), dir.Sub("x")).code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(RemoveTree(Env(), dir.Sub("moved")).ok());
  EXPECT_FALSE(fs::exists(dir.Sub("moved")));
  EXPECT_TRUE(RemoveTree(Env(), dir.Sub("moved")).ok());  // absent: OK
  std::ofstream(dir.Sub("single")) << "z";
  ASSERT_TRUE(RemoveFileDurably(Env(), dir.Sub("single")).ok());
  EXPECT_FALSE(fs::exists(dir.Sub("single")));
  EXPECT_TRUE(RemoveFileDurably(Env(), dir.Sub("single")).ok());
}

TEST(FilesTest, RenamesFailWithTheErrorTheFileSystemGave) {
  testing::TempDir dir;
  ASSERT_TRUE(CreateDirs(Env(), dir.Sub("table")).ok());
  testing::FaultyEnv env;
  env.FailRenames("Permission denied", "/quarantine");
  env.armed = true;
  absl::Status s = RenameDurably(&env, dir.Sub("table"), dir.Sub("quarantine"));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr("Permission denied"));
  EXPECT_TRUE(fs::exists(dir.Sub("table")));
}

TEST(FilesTest, UnmodifiedForMeasuresTheNewestEntry) {
  testing::TempDir dir;
  ASSERT_TRUE(CreateDirs(Env(), dir.Sub("partial")).ok());
  std::ofstream(dir.Sub("partial/data")) << "x";
  const auto old = fs::file_time_type::clock::now() - std::chrono::hours(1);
  fs::last_write_time(dir.Sub("partial"), old);
  EXPECT_LT(*UnmodifiedFor(dir.Sub("partial")), absl::Minutes(1));  // the file is new
  fs::last_write_time(dir.Sub("partial/data"), old);
  EXPECT_GT(*UnmodifiedFor(dir.Sub("partial")), absl::Minutes(59));
  EXPECT_EQ(UnmodifiedFor(dir.Sub("none")).status().code(), absl::StatusCode::kNotFound);
}

TEST(RandomIdTest, HexOfTheRequestedLengthAndNeverRepeated) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    absl::StatusOr<std::string> id = ids::RandomHex(12);
    ASSERT_TRUE(id.ok());
    EXPECT_EQ(id->size(), 24u);
    EXPECT_EQ(id->find_first_not_of("0123456789abcdef"), std::string::npos);
    EXPECT_TRUE(seen.insert(*id).second);
  }
}

}  // namespace
}  // namespace agentcom::files
