#include "common/version.h"

#include <cstdio>
#include <cstring>

#include <fmt/format.h>

#include "common/version_info.h"  // generated: build/generated/common/version_info.h

namespace ritsu {

std::string VersionLine(std::string_view program) {
  return fmt::format("{} {} (commit {}, {})", program, RITSU_VERSION, RITSU_GIT_COMMIT, RITSU_BUILD_CUDA);
}

std::string_view GitCommit() { return RITSU_GIT_COMMIT; }

bool PrintVersionIfAsked(int argc, char** argv, std::string_view program) {
  if (argc < 2 || std::strcmp(argv[1], "--version") != 0) return false;
  std::fputs((VersionLine(program) + "\n").c_str(), stdout);
  std::fflush(stdout);
  return true;
}

}  // namespace ritsu
