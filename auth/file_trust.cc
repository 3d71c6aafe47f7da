#include "auth/file_trust.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

namespace ritsu::auth {
namespace {

Status CheckOne(const std::string& path, const struct stat& st, std::string_view what,
                std::string_view file_path, bool is_dir) {
  const uid_t me = ::geteuid();
  if (st.st_uid != me && st.st_uid != 0) {
    return Status::PermissionDenied(fmt::format(
        "{} {}: {} is owned by uid {}, not by this user (uid {}) or root; refusing it, since its "
        "owner could add keys (chown it)",
        what, file_path, is_dir ? "its directory " + path : std::string("the file"), st.st_uid, me));
  }
  const bool sticky_dir = is_dir && (st.st_mode & S_ISVTX) != 0;
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 && !sticky_dir) {
    return Status::PermissionDenied(fmt::format(
        "{} {}: {} has mode {:04o}, writable by {}; refusing it, since any such user could add "
        "keys (run `chmod go-w {}`)",
        what, file_path, is_dir ? "its directory " + path : std::string("the file"),
        st.st_mode & 07777, (st.st_mode & S_IWOTH) ? "everyone" : "its group", path));
  }
  return Status::Ok();
}

}  // namespace

Status CheckTrustedFile(const std::string& path, std::string_view what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return Status::NotFound(fmt::format("{} {}: {}", what, path, std::strerror(errno)));
  }
  RITSU_RETURN_IF_ERROR(CheckOne(path, st, what, path, /*is_dir=*/false));
  std::string dir = std::filesystem::absolute(path).parent_path().string();
  struct stat dst {};
  if (::stat(dir.c_str(), &dst) != 0) {
    return Status::NotFound(fmt::format("{} {}: its directory {}: {}", what, path, dir, std::strerror(errno)));
  }
  return CheckOne(dir, dst, what, path, /*is_dir=*/true);
}

}  // namespace ritsu::auth
