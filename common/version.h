// What `--version` prints in every program (ritsud, ritsu-worker, ritsu, ritsu-engine):
// `ritsu-engine 0.1.0 (commit a7b265c, CUDA 13.0 sm_80;86;90)` or `(commit ..., no CUDA)`.
// The commit is the checkout's at configure time (CMake re-configures when HEAD moves);
// "unknown" when built outside git.
#pragma once

#include <string>
#include <string_view>

namespace ritsu {

std::string VersionLine(std::string_view program);
// The git commit alone (for tests and logs).
std::string_view GitCommit();

// When argv[1] is --version: prints VersionLine(program) to stdout and returns true, so each
// main starts with `if (ritsu::PrintVersionIfAsked(argc, argv, "ritsud")) return 0;`. Only
// argv[1] counts: a later "--version" may belong to a task's own command line.
bool PrintVersionIfAsked(int argc, char** argv, std::string_view program);

}  // namespace ritsu
