// ritsu-engine: the compute process the worker runs (and users run by hand to debug).
// Dispatches argv[1] through the subcommand table (subcommands.cc).
#include <cstdio>
#include <cstring>
#include <algorithm>
#include <string>
#include <vector>

#include "common/version.h"
#include "engine/app/subcommands.h"

namespace {

void PrintUsage(FILE* out) {
  std::fprintf(out, "usage: ritsu-engine <subcommand> [flags]   (ritsu-engine <subcommand> --help)\n\nsubcommands:\n");
  for (const auto& s : ritsu::engine::app::Subcommands()) std::fprintf(out, "  %-12s %s\n", s.name, s.summary);
}

// Levenshtein distance, for "did you mean".
size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace

int main(int argc, char** argv) {
  if (ritsu::PrintVersionIfAsked(argc, argv, "ritsu-engine")) return 0;
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
    PrintUsage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string name = argv[1];
  for (const auto& s : ritsu::engine::app::Subcommands()) {
    if (name == s.name) return s.main(argc - 1, argv + 1);
  }
  std::fprintf(stderr, "ritsu-engine: unknown subcommand '%s'\n", name.c_str());
  for (const auto& s : ritsu::engine::app::Subcommands()) {
    if (EditDistance(name, s.name) <= 2) std::fprintf(stderr, "did you mean '%s'?\n", s.name);
  }
  PrintUsage(stderr);
  return 2;
}
