// The off-host destinations against the real thing: a single-node
// OpenStack Swift with its S3 API (deploy/swift/start-swift.sh), and a
// directory.

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <random>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/remote/directory_destination.h"
#include "common/remote/s3_destination.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/local_swift.h"
#include "tests/support/test_support.h"

namespace agentcom::remote {
namespace {

namespace fs = std::filesystem;
using ::agentcom::testing::LocalSwift;
using ::agentcom::testing::ReadFile;
using ::agentcom::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

void WriteBytes(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary) << data;
}

std::vector<std::string> Keys(const std::vector<RemoteObject>& objects) {
  std::vector<std::string> keys;
  for (const RemoteObject& o : objects) keys.push_back(o.key);
  return keys;
}

// Every test of a destination, run on both kinds.
void RoundTrip(Destination* d, const std::string& dir) {
  const std::string data = RandomBytes(3000, 1);
  const std::string file = dir + "/file";
  WriteBytes(file, data);
  ASSERT_TRUE(d->Upload(file, 0, data.size(), "t1/pool/000005.ldb").ok());
  ASSERT_TRUE(d->Upload(file, 1000, 500, "t1/wal/g1/000007.log.0000000000001000").ok());
  ASSERT_TRUE(d->Upload(file, 0, 10, "t2/x").ok());

  absl::StatusOr<std::vector<RemoteObject>> listed = d->List("t1/");
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_THAT(Keys(*listed), ::testing::ElementsAre("t1/pool/000005.ldb",
                                                    "t1/wal/g1/000007.log.0000000000001000"));
  EXPECT_EQ((*listed)[0].size, 3000u);
  EXPECT_EQ((*listed)[1].size, 500u);

  ASSERT_TRUE(d->Download("t1/pool/000005.ldb", dir + "/back").ok());
  EXPECT_EQ(ReadFile(dir + "/back"), data);
  ASSERT_TRUE(d->Download("t1/wal/g1/000007.log.0000000000001000", dir + "/range").ok());
  EXPECT_EQ(ReadFile(dir + "/range"), data.substr(1000, 500));

  EXPECT_EQ(d->Download("t1/none", dir + "/none").code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(fs::exists(dir + "/none"));
  EXPECT_EQ(d->Upload(file, 0, 10, "../escape").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(d->Upload(file, 0, 10, "a//b").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(d->Upload(file, 0, 10, "/abs").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(d->Upload(file, 2990, 20, "t1/short").code(), absl::StatusCode::kDataLoss);

  ASSERT_TRUE(d->Delete("t1/pool/000005.ldb").ok());
  ASSERT_TRUE(d->Delete("t1/pool/000005.ldb").ok());  // absent: OK
  listed = d->List("t1/");
  ASSERT_TRUE(listed.ok());
  EXPECT_THAT(Keys(*listed), ::testing::ElementsAre("t1/wal/g1/000007.log.0000000000001000"));
}

class S3DestinationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { swift_ = new LocalSwift(); }
  static void TearDownTestSuite() {
    delete swift_;
    swift_ = nullptr;
  }

  S3Options Options(const std::string& bucket) {
    S3Options o;
    o.endpoint = swift_->endpoint();
    o.bucket = bucket;
    o.prefix = "agentcom/test";
    o.access_key_id = swift_->access_key_id();
    o.secret_access_key = swift_->secret_access_key();
    o.timeout = absl::Seconds(10);
    o.attempts = 2;
    o.backoff = absl::Milliseconds(50);
    return o;
  }

  std::unique_ptr<S3Destination> Open(const std::string& bucket, S3Options* options = nullptr) {
    S3Options o = Options(bucket);
    if (options) o = *options;
    auto d = std::make_unique<S3Destination>(o);
    absl::Status s = d->Prepare();
    EXPECT_TRUE(s.ok()) << s;
    return d;
  }

  static LocalSwift* swift_;
  TempDir dir_;
};
LocalSwift* S3DestinationTest::swift_ = nullptr;

TEST_F(S3DestinationTest, UploadsListsDownloadsAndDeletes) {
  ASSERT_TRUE(swift_->ok());
  auto d = Open("roundtrip");
  RoundTrip(d.get(), dir_.path());
  EXPECT_EQ(d->Describe(), absl::StrCat("s3://roundtrip/agentcom/test at ", swift_->endpoint()));
}

TEST_F(S3DestinationTest, LargeFilesGoInParts) {
  ASSERT_TRUE(swift_->ok());
  S3Options o = Options("multipart");
  o.part_size = 5 << 20;  // S3's smallest part
  auto d = Open("multipart", &o);
  const std::string data = RandomBytes((11 << 20) + 123, 2);
  WriteBytes(dir_.Sub("big"), data);
  absl::Status s = d->Upload(dir_.Sub("big"), 0, data.size(), "t/big");
  ASSERT_TRUE(s.ok()) << s;
  absl::StatusOr<std::vector<RemoteObject>> listed = d->List("t/");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].size, data.size());
  ASSERT_TRUE(d->Download("t/big", dir_.Sub("back")).ok());
  EXPECT_TRUE(ReadFile(dir_.Sub("back")) == data);
}

TEST_F(S3DestinationTest, ListsPastOnePage) {
  ASSERT_TRUE(swift_->ok());
  S3Options o = Options("pages");
  o.list_page_size = 40;
  auto d = Open("pages", &o);
  WriteBytes(dir_.Sub("f"), "x");
  for (int i = 0; i < 101; ++i) {
    ASSERT_TRUE(d->Upload(dir_.Sub("f"), 0, 1, absl::StrCat("t/k", 10000 + i)).ok());
  }
  absl::StatusOr<std::vector<RemoteObject>> listed = d->List("t/");
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(listed->size(), 101u);
}

TEST_F(S3DestinationTest, WrongCredentialsAreRefusedWithoutShowingTheSecret) {
  ASSERT_TRUE(swift_->ok());
  Open("creds");
  S3Options o = Options("creds");
  o.secret_access_key = "not-the-secret-0123456789";
  S3Destination d(o);
  WriteBytes(dir_.Sub("f"), "x");
  absl::Status s = d.Upload(dir_.Sub("f"), 0, 1, "t/f");
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr(d.Describe()));
  EXPECT_THAT(std::string(s.message()), Not(HasSubstr(o.secret_access_key)));
  EXPECT_THAT(std::string(s.message()), Not(HasSubstr(Options("creds").secret_access_key)));
  EXPECT_EQ(d.List("t/").status().code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(S3DestinationTest, AnObjectAlteredAtRestIsDetected) {
  ASSERT_TRUE(swift_->ok());
  auto d = Open("altered");
  const std::string data = RandomBytes(100000, 3);
  WriteBytes(dir_.Sub("f"), data);
  ASSERT_TRUE(d->Upload(dir_.Sub("f"), 0, data.size(), "t/f").ok());
  // Swift keeps an object as one .data file: flip bytes in the middle.
  std::string stored;
  for (const auto& e : fs::recursive_directory_iterator(swift_->devices_dir())) {
    if (e.path().extension() == ".data" && fs::file_size(e.path()) == data.size()) {
      stored = e.path().string();
    }
  }
  ASSERT_FALSE(stored.empty());
  ::agentcom::testing::FlipBytes(stored, 50000, 8);
  absl::Status s = d->Download("t/f", dir_.Sub("back"));
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_FALSE(fs::exists(dir_.Sub("back")));
}

TEST_F(S3DestinationTest, AStoreThatIsDownIsUnavailableAndWorksAgainWhenBack) {
  ASSERT_TRUE(swift_->ok());
  auto d = Open("outage");
  WriteBytes(dir_.Sub("f"), "abc");
  swift_->Stop();
  absl::Status s = d->Upload(dir_.Sub("f"), 0, 3, "t/f");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr(d->Describe()));
  EXPECT_EQ(d->List("t/").status().code(), absl::StatusCode::kUnavailable);
  swift_->Start();
  ASSERT_TRUE(swift_->ok());
  s = d->Upload(dir_.Sub("f"), 0, 3, "t/f");
  EXPECT_TRUE(s.ok()) << s;
}

TEST(DirectoryDestinationTest, UploadsListsDownloadsAndDeletes) {
  TempDir dir;
  DirectoryDestination d(dir.Sub("remote"));
  fs::create_directories(dir.Sub("remote"));
  RoundTrip(&d, dir.path());
}

TEST(DirectoryDestinationTest, ACopyAlteredAtRestIsDetected) {
  TempDir dir;
  fs::create_directories(dir.Sub("remote"));
  DirectoryDestination d(dir.Sub("remote"));
  WriteBytes(dir.Sub("f"), RandomBytes(5000, 4));
  ASSERT_TRUE(d.Upload(dir.Sub("f"), 0, 5000, "t/f").ok());
  ::agentcom::testing::FlipBytes(dir.Sub("remote/t/f"), 100, 4);
  EXPECT_EQ(d.Download("t/f", dir.Sub("back")).code(), absl::StatusCode::kDataLoss);
}

TEST(DirectoryDestinationTest, AMissingRootIsUnavailable) {
  TempDir dir;
  DirectoryDestination d(dir.Sub("not-mounted"));
  EXPECT_EQ(d.List("t/").status().code(), absl::StatusCode::kUnavailable);
}

TEST(OpenDestinationTest, CredentialsReadableByOthersAreRefused) {
  TempDir dir;
  WriteBytes(dir.Sub("creds"), "access_key_id = a\nsecret_access_key = b\n");
  ::chmod(dir.Sub("creds").c_str(), 0644);
  topology::v1::RemoteBackup config;
  config.set_kind("s3");
  config.set_endpoint("https://127.0.0.1:1");
  config.set_bucket("b");
  config.set_credentials_file(dir.Sub("creds"));
  absl::StatusOr<std::unique_ptr<Destination>> d = OpenDestination(config);
  EXPECT_EQ(d.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(d.status().message()), HasSubstr("chmod 600"));
  ::chmod(dir.Sub("creds").c_str(), 0600);
  d = OpenDestination(config);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ((*d)->Describe(), "s3://b at https://127.0.0.1:1");
}

}  // namespace
}  // namespace agentcom::remote
