// Writing outputs so that a crash never leaves a half-written file that looks complete:
// write "<path>.tmp.<pid>", flush, then rename over the final name.
#pragma once

#include <string>

#include "common/status.h"

namespace ritsu::eval {

// Fails with AlreadyExists when `path` exists and !overwrite (the message names the flag).
Status WriteFileAtomically(const std::string& path, const std::string& contents, bool overwrite);
// The refusal check alone, done before a long job starts.
Status CheckOutputPath(const std::string& path, bool overwrite);

}  // namespace ritsu::eval
