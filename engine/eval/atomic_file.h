// Evaluation outputs: the --overwrite refusal, then common/atomic_file.h's WriteFileAtomic
// (temporary file, fsync, rename, fsync of the directory).
#pragma once

#include <string>

#include "common/status.h"

namespace ritsu::eval {

// Fails with AlreadyExists when `path` exists and !overwrite (the message names the flag).
Status WriteFileAtomically(const std::string& path, const std::string& contents, bool overwrite);
// The refusal check alone, done before a long job starts.
Status CheckOutputPath(const std::string& path, bool overwrite);

}  // namespace ritsu::eval
