// libFuzzer target (issue 8): a backup's MANIFEST.json, read from a backup
// directory that anyone with access to the backup volume could have edited.
// The input becomes MANIFEST.json of a backup directory next to one real
// data file; VerifyBackup must accept it only if it describes that file
// exactly, and otherwise refuse with an error, never crash or read outside
// the directory.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/storage/backup.h"

namespace {

const std::string& BackupDir() {
  static const std::string dir = [] {
    char tmpl[] = "/tmp/agentcom-fuzz-XXXXXX";
    std::string root = mkdtemp(tmpl);
    std::string backup = root + "/agent_mailbox/20261125T000000.000000Z";
    std::filesystem::create_directories(backup);
    std::ofstream(backup + "/data-000001.ldb") << std::string(4096, 'd');
    return backup;
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& dir = BackupDir();
  {
    std::ofstream out(dir + "/MANIFEST.json", std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  auto manifest = agentcom::storage::VerifyBackup(dir);
  // The data file is not a LevelDB table, so no manifest can verify.
  if (manifest.ok()) __builtin_trap();
  return 0;
}
