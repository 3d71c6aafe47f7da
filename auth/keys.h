// CURVE key pairs on disk: generation, Z85 validation, and the two key files of `ritsu keygen`.
//
//   NAME.pub  the public key, one Z85 line; safe to copy anywhere (into an allowlist, to clients).
//   NAME.key  the secret key, one Z85 line; created with mode 0600, never readable by others.
//
// Reading a secret key file refuses any group/other permission bit, so a key that was copied
// with a careless `cp` or umask is noticed before it is used (ssh does the same for id_*).
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace ritsu::auth {

// A CURVE key is 32 bytes, written as 40 Z85 characters.
inline constexpr size_t kZ85KeyLength = 40;

struct KeyPair {
  std::string public_z85;
  std::string secret_z85;
};

// A fresh key pair from libzmq (libsodium's random source).
Result<KeyPair> GenerateKeyPair();

// OK when `key` is 40 characters of the Z85 alphabet that decode to 32 bytes. `what` names the
// key in the error ("allowlist /etc/ritsu/allowlist line 3"), so the operator knows where to look.
Status ValidateZ85Key(std::string_view key, std::string_view what);

// The public key that belongs to a secret key (both Z85).
Result<std::string> PublicKeyOf(std::string_view secret_z85);

// Writes DIR/NAME.key (mode 0600, written to a temporary file first and renamed into place, so a
// reader never sees a partial or a world-readable key) and DIR/NAME.pub (mode 0644). Refuses to
// replace an existing NAME.key unless `overwrite`. `name` may hold letters, digits, '.', '-', '_'.
Status WriteKeyPair(const std::string& dir, const std::string& name, const KeyPair& keys,
                    bool overwrite = false);

// The secret key file's pair (public key derived from the secret). Fails, naming the file and its
// mode, when the file grants any permission to group or others.
Result<KeyPair> ReadSecretKeyFile(const std::string& path);

// The Z85 public key in a NAME.pub file.
Result<std::string> ReadPublicKeyFile(const std::string& path);

// The first line of `text` that is neither empty nor a '#' comment, trimmed; "" when none.
// ('#' is a Z85 character, but no valid key starts with it: see keys.cc.)
std::string FirstKeyLine(std::string_view text);

// Replaces `path` by `content` atomically: temporary file in the same directory with `mode`
// (and the replaced file's owner and group, where permitted), fsync, rename, fsync of the
// directory. Used for key files and allowlist edits.
Status WriteFileAtomically(const std::string& path, std::string_view content, unsigned mode);

}  // namespace ritsu::auth
