#include "worker/instance_id.h"

#include <filesystem>
#include <fstream>
#include <random>

#include <fmt/format.h>

namespace ritsu::worker {

Result<std::string> LoadOrCreateInstanceId(const std::string& spool_dir) {
  namespace fs = std::filesystem;
  const fs::path path = fs::path(spool_dir) / "instance_id";
  {
    std::ifstream in(path);
    std::string id;
    if (in && std::getline(in, id) && id.size() >= 16) return id;
  }
  std::random_device rd;
  std::string id;
  for (int i = 0; i < 4; ++i) id += fmt::format("{:08x}", rd());
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << id << "\n";
    out.flush();
    if (!out) return Status::IOError(fmt::format("--spool-dir: cannot write {}", tmp.string()));
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);  // atomic: a crash leaves the old file or the new one, never half
  if (ec) return Status::IOError(fmt::format("--spool-dir: cannot create {}: {}", path.string(), ec.message()));
  return id;
}

}  // namespace ritsu::worker
