#include "engine/eval/atomic_file.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace ritsu::eval {

Status CheckOutputPath(const std::string& path, bool overwrite) {
  std::error_code ec;
  if (path.empty()) return Status::InvalidArgument("output path is empty");
  if (!overwrite && std::filesystem::exists(path, ec))
    return Status::AlreadyExists("output " + path + " exists; pass --overwrite to replace it");
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty() && !std::filesystem::is_directory(parent, ec))
    return Status::NotFound("output directory " + parent.string() + " does not exist");
  return Status::Ok();
}

Status WriteFileAtomically(const std::string& path, const std::string& contents, bool overwrite) {
  RITSU_RETURN_IF_ERROR(CheckOutputPath(path, overwrite));
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Status::IOError("cannot write " + tmp);
    out << contents;
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      return Status::IOError("write to " + tmp + " failed (disk full?)");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    return Status::IOError("rename " + tmp + " -> " + path + ": " + ec.message());
  }
  return Status::Ok();
}

}  // namespace ritsu::eval
