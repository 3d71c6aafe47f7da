// A small "--name value" / "--switch" parser for the eval, data, rescore and compare commands.
// Unknown flags and missing values are errors that name the flag; positional arguments are
// kept in order.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"

namespace ritsu::eval {

class Flags {
 public:
  // `valued`: flags that take a value; `switches`: flags that do not.
  Flags(std::set<std::string> valued, std::set<std::string> switches)
      : valued_(std::move(valued)), switches_(std::move(switches)) {}

  Status Parse(const std::vector<std::string>& args);

  bool Has(const std::string& name) const { return values_.count(name) || set_switches_.count(name); }
  std::optional<std::string> Get(const std::string& name) const;
  std::string GetOr(const std::string& name, const std::string& def) const;
  // Integer value of --name (error names the flag and the text), or `def` when absent.
  Result<long long> GetInt(const std::string& name, long long def, long long min_value) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::set<std::string> valued_, switches_;
  std::map<std::string, std::string> values_;
  std::set<std::string> set_switches_;
  std::vector<std::string> positional_;
};

std::vector<std::string> ArgsOf(int argc, char** argv, int first);

}  // namespace ritsu::eval
