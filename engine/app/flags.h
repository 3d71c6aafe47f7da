// A small command-line flag reader for ritsu-engine's subcommands: "--name value",
// "--name=value" and boolean "--name". Unknown flags and missing values are errors that name
// the flag (exit 2 at the caller), never ignored.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"

namespace ritsu::engine::app {

class Flags {
 public:
  // value_flags take a value; bool_flags do not. argv[0] (the subcommand) is skipped.
  static Result<Flags> Parse(int argc, char** argv, const std::set<std::string>& value_flags,
                             const std::set<std::string>& bool_flags);

  bool Has(const std::string& name) const { return values_.count(name) > 0; }
  std::string Get(const std::string& name, const std::string& fallback = "") const;
  Result<int64_t> GetInt(const std::string& name, int64_t fallback) const;
  Result<double> GetDouble(const std::string& name, double fallback) const;
  // Error "--name is required" when absent.
  Result<std::string> Require(const std::string& name) const;

 private:
  std::map<std::string, std::string> values_;
};

}  // namespace ritsu::engine::app
