// The command-line reader shared by merge and gguf-inspect: "--name value", "--name=value",
// boolean "--name", positional arguments, and alias spellings folded onto one canonical name.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"

namespace ritsu::merge {

struct FlagSpec {
  std::map<std::string, std::string> value_flags;  // spelling -> canonical name
  std::map<std::string, std::string> bool_flags;   // spelling -> canonical name
};

struct ParsedFlags {
  std::map<std::string, std::string> values;  // canonical name -> value ("1" for booleans)
  std::vector<std::string> positional;
  bool Has(const std::string& name) const { return values.count(name) > 0; }
  std::string Get(const std::string& name) const {
    auto it = values.find(name);
    return it == values.end() ? "" : it->second;
  }
};

// argv[0] (the subcommand) is skipped. Unknown flags, missing values and a flag given twice
// under two spellings are errors naming the flag.
Result<ParsedFlags> ParseFlags(int argc, char** argv, const FlagSpec& spec);

// "5GB", "500MB", "123" (bytes), "2GiB": for --max-shard-size.
Result<uint64_t> ParseByteSize(const std::string& text, const std::string& flag);

// Writes `json_text` to $RITSU_METRICS_FILE (temp name, then rename); no-op when unset.
Status WriteMetricsFile(const std::string& json_text);

}  // namespace ritsu::merge
