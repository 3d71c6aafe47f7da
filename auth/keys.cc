#include "auth/keys.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <sstream>

#include <fmt/format.h>

namespace ritsu::auth {
namespace {

// The 85 characters of the Z85 alphabet (ZeroMQ RFC 32).
constexpr std::string_view kZ85Alphabet =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

std::string Errno(int err) { return std::strerror(err); }

bool ValidKeyName(std::string_view name) {
  if (name.empty() || name.size() > 64 || name[0] == '.') return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

Result<std::string> ReadSmallFile(const std::string& path, int fd) {
  std::string text;
  std::array<char, 4096> buf{};
  while (true) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::IOError(fmt::format("reading {}: {}", path, Errno(errno)));
    }
    if (n == 0) break;
    text.append(buf.data(), static_cast<size_t>(n));
    if (text.size() > 64 * 1024) {
      return Status::InvalidArgument(fmt::format("{} is larger than 64 KiB: not a key file", path));
    }
  }
  return text;
}

}  // namespace

Result<KeyPair> GenerateKeyPair() {
  std::array<char, kZ85KeyLength + 1> pub{};
  std::array<char, kZ85KeyLength + 1> sec{};
  if (zmq_curve_keypair(pub.data(), sec.data()) != 0) {
    return Status::Unavailable(fmt::format(
        "zmq_curve_keypair failed ({}): this libzmq was built without CURVE support",
        zmq_strerror(zmq_errno())));
  }
  return KeyPair{std::string(pub.data(), kZ85KeyLength), std::string(sec.data(), kZ85KeyLength)};
}

Status ValidateZ85Key(std::string_view key, std::string_view what) {
  if (key.size() != kZ85KeyLength) {
    return Status::InvalidArgument(fmt::format(
        "{}: a CURVE key is {} Z85 characters, got {}", what, kZ85KeyLength, key.size()));
  }
  for (size_t i = 0; i < key.size(); ++i) {
    if (kZ85Alphabet.find(key[i]) == std::string_view::npos) {
      return Status::InvalidArgument(fmt::format(
          "{}: character {} ('{}') is not in the Z85 alphabet", what, i + 1, key[i]));
    }
  }
  std::string z(key);
  std::array<uint8_t, 32> raw{};
  if (zmq_z85_decode(raw.data(), z.c_str()) == nullptr) {
    return Status::InvalidArgument(fmt::format("{}: not a valid Z85 key", what));
  }
  return Status::Ok();
}

Result<std::string> PublicKeyOf(std::string_view secret_z85) {
  RITSU_RETURN_IF_ERROR(ValidateZ85Key(secret_z85, "secret key"));
  std::string sec(secret_z85);
  std::array<char, kZ85KeyLength + 1> pub{};
  if (zmq_curve_public(pub.data(), sec.c_str()) != 0) {
    return Status::Unavailable(fmt::format("zmq_curve_public failed: {}", zmq_strerror(zmq_errno())));
  }
  return std::string(pub.data(), kZ85KeyLength);
}

std::string FirstKeyLine(std::string_view text) {
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    size_t b = line.find_first_not_of(" \t\r");
    if (b == std::string::npos) continue;
    size_t e = line.find_last_not_of(" \t\r");
    std::string trimmed = line.substr(b, e - b + 1);
    // '#' is a Z85 character but never the first of a key: it is the alphabet's last digit,
    // and 84 * 85^4 exceeds 2^32, so a chunk starting with it cannot decode.
    if (trimmed[0] == '#') continue;
    return trimmed;
  }
  return "";
}

Status WriteFileAtomically(const std::string& path, std::string_view content, unsigned mode) {
  std::string dir = ".";
  if (auto slash = path.rfind('/'); slash != std::string::npos) dir = slash == 0 ? "/" : path.substr(0, slash);
  std::string tmp = fmt::format("{}.tmp.{}", path, ::getpid());
  // O_EXCL: never follow or reuse a file someone else planted under the temporary name.
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return Status::IOError(fmt::format("creating {}: {}", tmp, Errno(errno)));
  auto fail = [&](const std::string& what) {
    int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return Status::IOError(fmt::format("{} {}: {}", what, tmp, Errno(err)));
  };
  // The umask may have removed bits from `mode`; set exactly what was asked (never more than it).
  if (::fchmod(fd, mode) != 0) return fail("chmod");
  // Keep the owner and group of the file being replaced: root editing /etc/ritsu/allowlist must
  // leave it readable by the ritsu group the scheduler runs as. (Fails harmlessly when not root.)
  struct stat old {};
  if (::stat(path.c_str(), &old) == 0) (void)!::fchown(fd, old.st_uid, old.st_gid);
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("writing");
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) return fail("fsync");
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Status::IOError(fmt::format("renaming {} to {}: {}", tmp, path, Errno(err)));
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Status::Ok();
}

Status WriteKeyPair(const std::string& dir, const std::string& name, const KeyPair& keys,
                    bool overwrite) {
  if (!ValidKeyName(name)) {
    return Status::InvalidArgument(fmt::format(
        "key name '{}': use 1-64 letters, digits, '.', '-', '_' (not starting with '.')", name));
  }
  RITSU_RETURN_IF_ERROR(ValidateZ85Key(keys.public_z85, "public key"));
  RITSU_RETURN_IF_ERROR(ValidateZ85Key(keys.secret_z85, "secret key"));
  std::string key_path = fmt::format("{}/{}.key", dir, name);
  std::string pub_path = fmt::format("{}/{}.pub", dir, name);
  struct stat st {};
  if (!overwrite && ::stat(key_path.c_str(), &st) == 0) {
    return Status::AlreadyExists(fmt::format(
        "{} exists: refusing to replace a secret key (remove it first if you mean to)", key_path));
  }
  std::string secret_text = fmt::format(
      "# ritsu CURVE secret key '{}': never copy this file off its host (mode 0600).\n{}\n",
      name, keys.secret_z85);
  std::string public_text = fmt::format(
      "# ritsu CURVE public key '{}': add it to the scheduler's allowlist.\n{}\n", name,
      keys.public_z85);
  RITSU_RETURN_IF_ERROR(WriteFileAtomically(key_path, secret_text, 0600));
  return WriteFileAtomically(pub_path, public_text, 0644);
}

Result<KeyPair> ReadSecretKeyFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::NotFound(fmt::format("secret key file {}: {}", path, Errno(errno)));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return Status::IOError(fmt::format("stat {}: {}", path, Errno(err)));
  }
  // Checked on the open descriptor, so the file cannot be swapped between check and read.
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    return Status::PermissionDenied(fmt::format(
        "secret key file {} has mode {:04o}: group/others may read it; run `chmod 600 {}` "
        "(and generate a new key if it may have leaked)",
        path, st.st_mode & 07777, path));
  }
  auto text = ReadSmallFile(path, fd);
  ::close(fd);
  if (!text.ok()) return text.status();
  std::string secret = FirstKeyLine(*text);
  RITSU_RETURN_IF_ERROR(ValidateZ85Key(secret, fmt::format("secret key file {}", path)));
  RITSU_ASSIGN_OR_RETURN(std::string pub, PublicKeyOf(secret));
  return KeyPair{pub, secret};
}

Result<std::string> ReadPublicKeyFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::NotFound(fmt::format("public key file {}: {}", path, Errno(errno)));
  auto text = ReadSmallFile(path, fd);
  ::close(fd);
  if (!text.ok()) return text.status();
  std::string key = FirstKeyLine(*text);
  RITSU_RETURN_IF_ERROR(ValidateZ85Key(key, fmt::format("public key file {}", path)));
  return key;
}

}  // namespace ritsu::auth
