#include "engine/merge/hf_cache.h"

#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace ritsu::merge {

namespace fs = std::filesystem;

namespace {

fs::path HubCacheDir() {
  if (const char* c = std::getenv("HF_HUB_CACHE"); c && *c) return c;
  if (const char* h = std::getenv("HF_HOME"); h && *h) return fs::path(h) / "hub";
  if (const char* home = std::getenv("HOME"); home && *home) return fs::path(home) / ".cache/huggingface/hub";
  return {};
}

}  // namespace

Result<std::string> ResolveModelDir(const std::string& arg, const std::string& flag) {
  if (fs::is_directory(arg)) return arg;
  const auto slash = arg.find('/');
  const bool hub_id = slash != std::string::npos && slash > 0 && arg.find('/', slash + 1) == std::string::npos &&
                      arg.front() != '.';
  if (!hub_id) return Status::NotFound(fmt::format("{} {}: no such directory", flag, arg));
  const fs::path repo = HubCacheDir() / ("models--" + arg.substr(0, slash) + "--" + arg.substr(slash + 1));
  std::string ref;
  std::ifstream(repo / "refs" / "main") >> ref;
  if (!ref.empty() && fs::is_directory(repo / "snapshots" / ref)) return (repo / "snapshots" / ref).string();
  return Status::NotFound(fmt::format(
      "{} {}: neither a directory nor a model in the Hugging Face cache ({} not found); download it on a machine "
      "with network access or pass the local directory", flag, arg, (repo / "snapshots").string()));
}

}  // namespace ritsu::merge
