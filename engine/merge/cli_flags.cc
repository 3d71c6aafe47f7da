#include "engine/merge/cli_flags.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "common/atomic_file.h"

namespace ritsu::merge {

Result<ParsedFlags> ParseFlags(int argc, char** argv, const FlagSpec& spec) {
  ParsedFlags out;
  std::map<std::string, std::string> spelled;  // canonical -> spelling used
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.size() < 2 || arg[0] != '-') {
      out.positional.push_back(arg);
      continue;
    }
    std::string name = arg, value;
    bool has_inline = false;
    if (auto eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_inline = true;
    }
    std::string canonical;
    if (auto it = spec.value_flags.find(name); it != spec.value_flags.end()) {
      canonical = it->second;
      if (!has_inline) {
        if (i + 1 >= argc) return Status::InvalidArgument(name + " needs a value");
        value = argv[++i];
      }
    } else if (auto jt = spec.bool_flags.find(name); jt != spec.bool_flags.end()) {
      if (has_inline) return Status::InvalidArgument(name + " takes no value");
      canonical = jt->second;
      value = "1";
    } else {
      return Status::InvalidArgument("unknown flag " + name + " (see --help)");
    }
    if (auto prev = spelled.find(canonical); prev != spelled.end()) {
      return Status::InvalidArgument(fmt::format("{} given twice (also as {})", name, prev->second));
    }
    spelled[canonical] = name;
    out.values[canonical] = value;
  }
  return out;
}

Result<uint64_t> ParseByteSize(const std::string& text, const std::string& flag) {
  size_t pos = 0;
  while (pos < text.size() && (std::isdigit(static_cast<unsigned char>(text[pos])) || text[pos] == '.')) ++pos;
  if (pos == 0) return Status::InvalidArgument(fmt::format("{} {}: expected a size such as 5GB", flag, text));
  const double number = std::strtod(text.substr(0, pos).c_str(), nullptr);
  std::string unit = text.substr(pos);
  for (char& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  double mult = 0;
  if (unit.empty() || unit == "B") mult = 1;
  else if (unit == "KB") mult = 1e3;
  else if (unit == "MB") mult = 1e6;
  else if (unit == "GB") mult = 1e9;
  else if (unit == "KIB") mult = 1024.0;
  else if (unit == "MIB") mult = 1024.0 * 1024;
  else if (unit == "GIB") mult = 1024.0 * 1024 * 1024;
  if (mult == 0 || number <= 0) {
    return Status::InvalidArgument(fmt::format("{} {}: expected a positive size such as 5GB or 500MB", flag, text));
  }
  return static_cast<uint64_t>(number * mult);
}

Status WriteMetricsFile(const std::string& json_text) {
  const char* path = std::getenv("RITSU_METRICS_FILE");
  if (!path || !*path) return Status::Ok();
  return WriteFileAtomic(path, json_text + "\n").Annotate("$RITSU_METRICS_FILE");
}

}  // namespace ritsu::merge
