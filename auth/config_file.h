// `--config FILE` for the daemons: a TOML file whose top-level keys are flag names without the
// leading "--", so that everything a flag can say a config file can say, with one parser.
//
//   # /etc/ritsu/ritsud.toml
//   listen = "tcp://0.0.0.0:7070"
//   curve-secret-key = "/etc/ritsu/keys/ritsud.key"
//   insecure = false          # true -> --insecure, false -> flag left out
//   tags = ["a100", "mig"]    # repeated flag: --tags=a100 --tags=mig
//
// A flag given on the command line wins over the same key in the file. Unknown keys are left
// to the program's own flag parser, which names them ("unknown flag --lisen, did you mean").
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace ritsu::auth {

// The flags a config file stands for (in key order: flags do not depend on order), each one token: "--flag=value" or
// "--flag" (so a value that starts with "--" stays a value). Errors name the file, and the key or the
// TOML parse position (nested tables and arrays of tables are refused: flags are flat).
Result<std::vector<std::string>> ConfigFileArgs(const std::string& path);

// `config_args` without the flags that `cli_args` gives, followed by `cli_args`.
std::vector<std::string> MergeConfigArgs(const std::vector<std::string>& config_args,
                                         const std::vector<std::string>& cli_args);

// Replaces `--config FILE` (or `--config=FILE`) in `args` by the file's flags, merged as above;
// args without --config come back unchanged. Everything after a "--" is left alone.
Result<std::vector<std::string>> ExpandConfigFlag(const std::vector<std::string>& args);

}  // namespace ritsu::auth
