// Bearer-token auth (issue 2, item 4): roles, missing and wrong tokens, token
// files created 0600 and refused when exposed.
#include "common/auth/authorizer.h"

#include <sys/stat.h>

#include <fstream>
#include <thread>
#include <vector>

#include "common/auth/tokens.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_support.h"

namespace agentcom::auth {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kAgent[] = "agent-token-0123456789abcdef";
constexpr char kAdmin[] = "admin-token-0123456789abcdef";

TEST(AuthorizerTest, Roles) {
  Authorizer a(kAgent, kAdmin);
  EXPECT_TRUE(a.Check(BearerValue(kAgent), Role::kAgent).ok());
  EXPECT_TRUE(a.Check(BearerValue(kAdmin), Role::kAdmin).ok());
  EXPECT_TRUE(a.Check(BearerValue(kAdmin), Role::kAgent).ok());

  absl::Status denied = a.Check(BearerValue(kAgent), Role::kAdmin);
  EXPECT_EQ(denied.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(denied.message(), HasSubstr("admin token"));
}

TEST(AuthorizerTest, MissingMalformedAndWrongTokens) {
  Authorizer a(kAgent, kAdmin);
  EXPECT_EQ(a.Check("", Role::kAgent).code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(a.Check(kAgent, Role::kAgent).code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(a.Check("Basic abc", Role::kAgent).code(), absl::StatusCode::kUnauthenticated);
  absl::Status wrong = a.Check(BearerValue("not-the-token"), Role::kAgent);
  EXPECT_EQ(wrong.code(), absl::StatusCode::kUnauthenticated);
  // Neither the presented nor the real token is echoed back.
  EXPECT_THAT(wrong.message(), Not(HasSubstr("not-the-token")));
  EXPECT_THAT(wrong.message(), Not(HasSubstr(kAgent)));
  // A prefix of the real token is not the token.
  EXPECT_EQ(a.Check(BearerValue("agent-token"), Role::kAgent).code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(TokensTest, CreatedOnceWithMode0600) {
  testing::TempDir dir;
  const std::string path = dir.Sub("tokens/agent.token");
  auto first = LoadOrCreateToken(path);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->size(), 64u);
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  auto again = LoadOrCreateToken(path);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *first);
}

TEST(TokensTest, ConcurrentStartersAgreeOnOneToken) {
  testing::TempDir dir;
  const std::string path = dir.Sub("admin.token");
  std::vector<std::string> seen(8);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      auto t = LoadOrCreateToken(path);
      if (t.ok()) seen[i] = *t;
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& s : seen) EXPECT_EQ(s, seen[0]);
  EXPECT_FALSE(seen[0].empty());
}

TEST(TokensTest, ExposedOrEmptyFilesAreRefused) {
  testing::TempDir dir;
  const std::string path = dir.Sub("open.token");
  std::ofstream(path) << "0123456789abcdef0123456789abcdef\n";
  chmod(path.c_str(), 0644);
  auto exposed = LoadOrCreateToken(path);
  EXPECT_EQ(exposed.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(exposed.status().message(), HasSubstr("chmod 600"));
  EXPECT_THAT(exposed.status().message(), Not(HasSubstr("0123456789abcdef")));

  const std::string empty = dir.Sub("empty.token");
  std::ofstream(empty) << "\n";
  chmod(empty.c_str(), 0600);
  EXPECT_EQ(LoadOrCreateToken(empty).status().code(), absl::StatusCode::kFailedPrecondition);

  auto from_files = Authorizer::FromFiles(path, dir.Sub("admin.token"));
  EXPECT_EQ(from_files.status().code(), absl::StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace agentcom::auth
