// `--version` on every program: the built binaries print "<name> <version> (commit <c>, ...)"
// with the commit compiled in, and exit 0.
#include <sys/wait.h>

#include <cstdio>
#include <regex>
#include <string>

#include <gtest/gtest.h>

#include "common/version.h"

namespace ritsu {
namespace {

struct CommandResult {
  int exit_code = -1;
  std::string output;
};

CommandResult RunCommand(const std::string& cmd) {
  CommandResult r;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) r.output += buf;
  const int st = ::pclose(p);
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

TEST(Version, LineNamesProgramVersionCommitAndCuda) {
  const std::string line = VersionLine("ritsud");
  EXPECT_TRUE(std::regex_match(line, std::regex(R"(ritsud \d+\.\d+\.\d+ \(commit [^,]+, (no CUDA|CUDA \d+\.\d+ sm_[0-9;]+)\))")))
      << line;
  EXPECT_NE(line.find("commit " + std::string(GitCommit()) + ","), std::string::npos) << line;
}

// The commit is a real commit of this checkout (or "unknown" outside git): not checked
// against HEAD, which may have moved since the build.
TEST(Version, CommitIsACommitOfTheSourceTree) {
  const std::string commit(GitCommit());
  if (RunCommand("git -C " RITSU_SOURCE_DIR " rev-parse --git-dir").exit_code != 0) {
    EXPECT_EQ(commit, "unknown");
    return;
  }
  ASSERT_TRUE(std::regex_match(commit, std::regex("[0-9a-f]{4,40}"))) << commit;
  EXPECT_EQ(RunCommand("git -C " RITSU_SOURCE_DIR " cat-file -e " + commit + "^{commit}").exit_code, 0) << commit;
}

TEST(Version, EveryProgramPrintsItAndExitsZero) {
  for (const auto& [name, path] : std::initializer_list<std::pair<std::string, std::string>>{
           {"ritsud", "scheduler/ritsud"},
           {"ritsu-worker", "worker/ritsu-worker"},
           {"ritsu", "cli/ritsu"},
           {"ritsu-engine", "engine/app/ritsu-engine"}}) {
    SCOPED_TRACE(name);
    const CommandResult r = RunCommand(std::string(RITSU_BINARY_DIR) + "/" + path + " --version");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.output, VersionLine(name) + "\n");
  }
}

}  // namespace
}  // namespace ritsu
