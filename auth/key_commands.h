// The key management commands behind `ritsu keygen` and `ritsu keys add|revoke|list`, kept here
// so that the CLI only parses flags and prints.
//
// Allowlist edits keep the file's other lines (comments, the block Ansible manages) as they are,
// hold an exclusive lock on FILE.lock against concurrent edits, check that the result still
// parses, and rename the new file into place: the scheduler's ZAP handler notices the change
// within a second (and `kill -HUP` of ritsud, or `systemctl reload ritsud`, reloads at once).
#pragma once

#include <string>

#include "auth/allowlist.h"
#include "common/status.h"

namespace ritsu::auth {

// Writes DIR/NAME.key and DIR/NAME.pub; returns the text to print (paths, public key, next step).
Result<std::string> Keygen(const std::string& dir, const std::string& name, bool overwrite);

// `key_or_file` is a Z85 public key or a NAME.pub file.
Status KeysAdd(const std::string& allowlist_path, const std::string& key_or_file, Role role,
               const std::string& name);
// Removes the entry with this name or public key.
Status KeysRevoke(const std::string& allowlist_path, const std::string& name_or_key);
// One line per entry: "NAME  ROLE  KEY".
Result<std::string> KeysList(const std::string& allowlist_path);

}  // namespace ritsu::auth
