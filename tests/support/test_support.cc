#include "tests/support/test_support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/storage/backup.h"
#include "common/storage/file_backup.h"
#include "gtest/gtest.h"

namespace agentcom::testing {

namespace fs = std::filesystem;

int BindAnyPort();

TempDir::TempDir() {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string pattern = absl::StrCat(base ? base : "/tmp", "/agentcom-test-XXXXXX");
  char* made = mkdtemp(pattern.data());
  EXPECT_NE(made, nullptr);
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

int FreePort() {
  // The kernel may hand the same ephemeral port out again right away; never
  // return one twice in a process, so one topology cannot get duplicates.
  static std::mutex mu;
  static std::set<int> given;
  std::lock_guard<std::mutex> lock(mu);
  for (int attempt = 0; attempt < 100; ++attempt) {
    int port = BindAnyPort();
    if (given.insert(port).second) return port;
  }
  ADD_FAILURE() << "no free port";
  return 0;
}

int BindAnyPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

void FlipBytes(const std::string& path, uint64_t offset, int count) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(f.good()) << path;
  std::string buf(count, '\0');
  f.seekg(static_cast<std::streamoff>(offset));
  f.read(buf.data(), count);
  for (char& c : buf) c = static_cast<char>(~c);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(buf.data(), count);
  f.flush();
  ASSERT_TRUE(f.good()) << path;
}

std::string DamageBackup(const std::string& backup_root, const std::string& table,
                         const std::string& id) {
  const std::string dir = storage::BackupPath(backup_root, table, id);
  auto manifest = storage::ReadManifest(dir);
  EXPECT_TRUE(manifest.ok()) << manifest.status();
  if (!manifest.ok()) return "";
  for (const auto& f : manifest->files()) {
    if (f.pooled() || f.size_bytes() < 16) continue;
    const std::string path = dir + "/" + f.name();
    FlipBytes(path, f.size_bytes() / 2, 4);
    return path;
  }
  ADD_FAILURE() << "backup " << dir << " has no file of its own";
  return "";
}

std::string LargestBackupTableFile(const std::string& backup_root, const std::string& table,
                                   const std::string& id) {
  const std::string dir = storage::BackupPath(backup_root, table, id);
  auto manifest = storage::ReadManifest(dir);
  EXPECT_TRUE(manifest.ok()) << manifest.status();
  if (!manifest.ok()) return "";
  std::string largest;
  uint64_t size = 0;
  for (const auto& f : manifest->files()) {
    if (f.name().size() < 4 || f.name().substr(f.name().size() - 4) != ".ldb" ||
        f.size_bytes() <= size) {
      continue;
    }
    size = f.size_bytes();
    largest =
        f.pooled() ? storage::PoolPath(backup_root, table) + "/" + f.name() : dir + "/" + f.name();
  }
  EXPECT_FALSE(largest.empty()) << "backup " << dir << " lists no table file";
  return largest;
}

std::string LargestFileWithExtension(const std::string& dir, const std::string& ext) {
  std::string largest;
  uintmax_t size = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ext && e.file_size() >= size) {
      size = e.file_size();
      largest = e.path().string();
    }
  }
  return largest;
}

std::string FlipBytesInLargestTableFile(const std::string& dir, int count) {
  const std::string largest = LargestFileWithExtension(dir, ".ldb");
  EXPECT_FALSE(largest.empty()) << "no .ldb file in " << dir;
  if (largest.empty()) return largest;
  FlipBytes(largest, fs::file_size(largest) / 3, count);
  return largest;
}

std::string TopologyYaml(
    const std::vector<std::pair<std::string, std::vector<std::string>>>& stores,
    const std::string& maintenance_address) {
  std::string yaml = absl::StrCat(
      "data_dir: data\nbackup_dir: backups\nstate_dir: state\n",
      "supervisor: {address: 127.0.0.1:", FreePort(), "}\n", "maintenance:\n  address: ",
      maintenance_address.empty() ? absl::StrCat("127.0.0.1:", FreePort()) : maintenance_address,
      "\n  metrics_address: 127.0.0.1:", FreePort(), "\nstores:\n");
  for (const auto& [name, tables] : stores) {
    absl::StrAppend(&yaml, "  - name: ", name, "\n    address: 127.0.0.1:0\n",
                    "    metrics_address: 127.0.0.1:", FreePort(), "\n    tables:\n");
    for (const auto& t : tables) absl::StrAppend(&yaml, "      - name: ", t, "\n");
  }
  return yaml;
}

config::Topology MakeTopology(
    const std::string& root,
    const std::vector<std::pair<std::string, std::vector<std::string>>>& stores,
    const std::string& maintenance_address) {
  auto topology = config::ParseTopology(TopologyYaml(stores, maintenance_address), root);
  EXPECT_TRUE(topology.ok()) << topology.status();
  return topology.ok() ? *topology : config::Topology();
}

std::string HttpGet(int port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return "";
  }
  std::string request = absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
  if (write(fd, request.data(), request.size()) < 0) {
    close(fd);
    return "";
  }
  std::string response;
  char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) response.append(buf, static_cast<size_t>(n));
  close(fd);
  size_t body = response.find("\r\n\r\n");
  return body == std::string::npos ? "" : response.substr(body + 4);
}

std::unique_ptr<storage::Table> OpenTestTable(const std::string& dir, const std::string& name,
                                              common::v1::Durability durability, Clock* clock) {
  storage::TableOptions o;
  o.name = name;
  o.clock = clock;
  o.dir = dir + "/" + name;
  o.storage.set_durability(durability);
  o.storage.set_flush_interval_ms(100);
  o.storage.set_block_cache_mb(8);
  o.storage.set_write_buffer_mb(4);
  o.storage.set_max_open_files(100);
  auto t = storage::OpenTable(o);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *std::move(t) : nullptr;
}

TmpfsMount::TmpfsMount(const std::string& dir, int size_mb) : dir_(dir) {
  std::filesystem::create_directories(dir);
  const std::string options = absl::StrCat("size=", size_mb, "m,mode=0700");
  if (mount("tmpfs", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) == 0) {
    mounted_ = true;
  } else {
    error_ = absl::StrCat("cannot mount a tmpfs at ", dir, ": ", std::strerror(errno));
  }
}

TmpfsMount::~TmpfsMount() {
  if (mounted_ && umount2(dir_.c_str(), MNT_DETACH) != 0) {
    ADD_FAILURE() << "cannot unmount " << dir_ << ": " << std::strerror(errno);
  }
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  std::string text = s.str();
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

void Authorize(grpc::ClientContext* context, const std::string& token) {
  context->AddMetadata("authorization", absl::StrCat("Bearer ", token));
}

std::string RunCommand(const std::string& command, int* status) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  int rc = pclose(pipe);
  if (status) *status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  return out;
}

}  // namespace agentcom::testing
