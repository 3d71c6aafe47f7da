// The worker's persistent identity: a random id generated once and kept in its spool directory,
// sent in Register. ritsud lets a worker with the same name and the same id take the name over
// at once (it is that worker restarted), and refuses the name to another id while its holder
// is alive (two workers on one host both defaulting to the host name).
#pragma once

#include <string>

#include "common/status.h"

namespace ritsu::worker {

// Reads DIR/instance_id, creating it (atomically) with a fresh random id when missing.
Result<std::string> LoadOrCreateInstanceId(const std::string& spool_dir);

}  // namespace ritsu::worker
