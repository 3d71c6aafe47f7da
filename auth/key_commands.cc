#include "auth/key_commands.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "auth/keys.h"

namespace ritsu::auth {
namespace {

// flock() on PATH.lock for the lifetime of the object.
class EditLock {
 public:
  static Result<EditLock> Acquire(const std::string& allowlist_path) {
    std::string lock_path = allowlist_path + ".lock";
    int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
      return Status::IOError(fmt::format("opening {}: {}", lock_path, std::strerror(errno)));
    }
    if (::flock(fd, LOCK_EX) != 0) {
      int err = errno;
      ::close(fd);
      return Status::IOError(fmt::format("locking {}: {}", lock_path, std::strerror(err)));
    }
    return EditLock(fd);
  }
  EditLock(EditLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  EditLock(const EditLock&) = delete;
  ~EditLock() {
    if (fd_ >= 0) ::close(fd_);  // closing releases the lock
  }

 private:
  explicit EditLock(int fd) : fd_(fd) {}
  int fd_;
};

Result<std::string> ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(fmt::format("allowlist {}: cannot open the file", path));
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

// The file's permission bits, or 0640 for a new file.
unsigned ModeOf(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0640;
  return st.st_mode & 0777;
}

// Checks the edited text and renames it into place.
Status Commit(const std::string& path, const std::string& text) {
  auto check = Allowlist::Parse(text, path + " (edited)");
  if (!check.ok()) return check.status().Annotate("the edit would break the allowlist; not written");
  return WriteFileAtomically(path, text, ModeOf(path));
}

}  // namespace

Result<std::string> Keygen(const std::string& dir, const std::string& name, bool overwrite) {
  RITSU_ASSIGN_OR_RETURN(KeyPair keys, GenerateKeyPair());
  RITSU_RETURN_IF_ERROR(WriteKeyPair(dir, name, keys, overwrite));
  return fmt::format(
      "secret key  {dir}/{name}.key  (mode 0600: keep it on this host)\n"
      "public key  {dir}/{name}.pub  {pub}\n"
      "allow it on the scheduler host (quote the key: Z85 has shell characters) with:\n"
      "  ritsu keys add '{pub}' --role submit|read|worker --name {name}\n",
      fmt::arg("dir", dir), fmt::arg("name", name), fmt::arg("pub", keys.public_z85));
}

Status KeysAdd(const std::string& allowlist_path, const std::string& key_or_file, Role role,
               const std::string& name) {
  std::string key = key_or_file;
  if (ValidateZ85Key(key_or_file, "key").ok() == false) {
    auto from_file = ReadPublicKeyFile(key_or_file);
    if (!from_file.ok()) {
      return Status::InvalidArgument(fmt::format(
          "'{}' is neither a Z85 public key (40 characters) nor a readable .pub file: {}",
          key_or_file, from_file.status().message()));
    }
    key = *from_file;
  }
  RITSU_ASSIGN_OR_RETURN(EditLock lock, EditLock::Acquire(allowlist_path));
  std::string text;
  if (::access(allowlist_path.c_str(), F_OK) == 0) {
    RITSU_ASSIGN_OR_RETURN(text, ReadText(allowlist_path));
  }
  RITSU_ASSIGN_OR_RETURN(Allowlist list, Allowlist::Parse(text, allowlist_path));
  // Add() checks the fields and that neither key nor name is listed yet.
  RITSU_RETURN_IF_ERROR(list.Add({key, role, name}));
  if (!text.empty() && text.back() != '\n') text += '\n';
  text += fmt::format("{} {} {}\n", key, RoleName(role), name);
  return Commit(allowlist_path, text);
}

Status KeysRevoke(const std::string& allowlist_path, const std::string& name_or_key) {
  RITSU_ASSIGN_OR_RETURN(EditLock lock, EditLock::Acquire(allowlist_path));
  RITSU_ASSIGN_OR_RETURN(std::string text, ReadText(allowlist_path));
  RITSU_ASSIGN_OR_RETURN(Allowlist list, Allowlist::Parse(text, allowlist_path));
  const AllowlistEntry* victim = list.FindByName(name_or_key);
  if (victim == nullptr) victim = list.FindByKey(name_or_key);
  if (victim == nullptr) {
    return Status::NotFound(fmt::format("allowlist {} has no entry named '{}' or with that key",
                                        allowlist_path, name_or_key));
  }
  // Drop the one line that parses to this entry; every other line stays byte for byte.
  std::istringstream in(text);
  std::string line, out;
  bool removed = false;
  while (std::getline(in, line)) {
    if (!removed) {
      auto one = Allowlist::Parse(line, allowlist_path);
      if (one.ok() && one->entries().size() == 1 &&
          one->entries()[0].public_key == victim->public_key) {
        removed = true;
        continue;
      }
    }
    out += line + "\n";
  }
  return Commit(allowlist_path, out);
}

Result<std::string> KeysList(const std::string& allowlist_path) {
  RITSU_ASSIGN_OR_RETURN(Allowlist list, Allowlist::Load(allowlist_path));
  std::string out;
  for (const auto& e : list.entries()) {
    out += fmt::format("{:<24} {:<7} {}\n", e.name, RoleName(e.role), e.public_key);
  }
  if (list.empty()) out = "(empty allowlist: nobody can connect)\n";
  return out;
}

}  // namespace ritsu::auth
