// Files that decide who may run commands (the allowlist, the daemons' config files) must not be
// changeable by other local users: otherwise any of them could add a key and run commands as the
// worker's user. Like ssh's StrictModes for authorized_keys, such a file is refused when it, or
// the directory holding it, is writable by group or others, or is owned by someone other than
// this process's user or root. A directory with the sticky bit (e.g. /tmp) is accepted, since
// others cannot replace a file they do not own there.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace ritsu::auth {

// `what` names the file in the message ("allowlist", "config file").
Status CheckTrustedFile(const std::string& path, std::string_view what);

}  // namespace ritsu::auth
