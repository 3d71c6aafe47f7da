// A small command-line parser shared by `ritsu` and `ritsu-worker` (and, later, by the
// `ritsu submit|run train|eval|merge` commands that forward the engine's flags).
//
// Accepts `--flag value`, `--flag=value`, boolean `--flag`, repeatable flags, positionals, and
// `--` after which everything is kept verbatim (the command of `submit exec -- CMD ARGS`).
// Errors name the flag and the command, suggest the closest known flag ("did you mean"),
// and point at --help.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ritsu::cli {

// Edit distance where insert, delete, substitute and swapping two neighbours each cost 1.
size_t EditDistance(std::string_view a, std::string_view b);
// The candidate closest to `word` if it is close enough to be a plausible typo, else "".
std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates);

// The one integer parser of the command line: a whole decimal number in [lo, hi], or an error
// naming the flag and the range ("--priority: -2147483649 is out of range [-1000000, 1000000]").
Result<int64_t> ParseInt(std::string_view flag, std::string_view text, int64_t lo, int64_t hi);

// A task or sweep id (a whole number from 1); what = "task id", "sweep id" for the message.
Result<uint64_t> ParseTaskId(const std::string& text, const std::string& what);

// A duration flag ("2h") in milliseconds within [lo_ms, hi_ms], the range said in the error.
Result<int64_t> ParseDurationFlag(std::string_view flag, std::string_view text, int64_t lo_ms, int64_t hi_ms);

struct ParsedArgs {
  std::map<std::string, std::vector<std::string>> values;  // flag name (with --) -> values
  std::vector<std::string> positionals;
  std::vector<std::string> rest;    // after "--"
  bool saw_double_dash = false;
  bool help = false;                // -h / --help was given

  bool Has(const std::string& flag) const { return values.count(flag) > 0; }
  std::string Get(const std::string& flag, const std::string& fallback = "") const;
  const std::vector<std::string>& GetAll(const std::string& flag) const;
};

class ArgParser {
 public:
  // command: how the user typed it, for messages ("ritsu submit exec").
  explicit ArgParser(std::string command, std::string summary = "");

  // A flag taking a value, e.g. Value("--gpus", "N", "GPUs the task needs").
  ArgParser& Value(std::string name, std::string value_name, std::string help, bool repeatable = false);
  ArgParser& Bool(std::string name, std::string help);
  // Describes positionals for the usage line and bounds how many are accepted.
  ArgParser& Positionals(std::string usage, size_t min, size_t max);
  // Text for what follows `--`, and whether it is required.
  ArgParser& Rest(std::string usage, bool required);

  Result<ParsedArgs> Parse(const std::vector<std::string>& args) const;
  std::string Usage() const;
  const std::string& command() const { return command_; }

 private:
  struct Flag {
    std::string name, value_name, help;
    bool takes_value = false, repeatable = false;
  };
  const Flag* Find(std::string_view name) const;
  Status Error(const std::string& what) const;

  std::string command_, summary_;
  std::vector<Flag> flags_;
  std::string positional_usage_;
  size_t min_pos_ = 0, max_pos_ = 0;
  std::string rest_usage_;
  bool rest_allowed_ = false, rest_required_ = false;
};

}  // namespace ritsu::cli
