#include "engine/eval/atomic_file.h"

#include <filesystem>

#include "common/atomic_file.h"

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
  return WriteFileAtomic(path, contents);
}

}  // namespace ritsu::eval
