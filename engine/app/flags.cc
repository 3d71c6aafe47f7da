#include "engine/app/flags.h"

#include <cerrno>
#include <cstdlib>

namespace ritsu::engine::app {

Result<Flags> Flags::Parse(int argc, char** argv, const std::set<std::string>& value_flags,
                           const std::set<std::string>& bool_flags) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0) return Status::InvalidArgument("unexpected argument '" + arg + "' (flags start with --)");
    std::string name = arg.substr(2), value;
    bool has_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    if (bool_flags.count(name)) {
      if (has_value && value != "true" && value != "false") return Status::InvalidArgument("--" + name + " takes no value");
      f.values_[name] = has_value ? value : "true";
      if (f.values_[name] == "false") f.values_.erase(name);
      continue;
    }
    if (!value_flags.count(name)) return Status::InvalidArgument("unknown flag --" + name);
    if (!has_value) {
      if (i + 1 >= argc) return Status::InvalidArgument("--" + name + " needs a value");
      value = argv[++i];
    }
    f.values_[name] = value;
  }
  return f;
}

std::string Flags::Get(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

Result<int64_t> Flags::GetInt(const std::string& name, int64_t fallback) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(it->second.c_str(), &end, 10);
  if (errno || end == it->second.c_str() || *end) return Status::InvalidArgument("--" + name + " must be an integer (got '" + it->second + "')");
  return static_cast<int64_t>(v);
}

Result<double> Flags::GetDouble(const std::string& name, double fallback) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(it->second.c_str(), &end);
  if (errno || end == it->second.c_str() || *end) return Status::InvalidArgument("--" + name + " must be a number (got '" + it->second + "')");
  return v;
}

Result<std::string> Flags::Require(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end() || it->second.empty()) return Status::InvalidArgument("--" + name + " is required");
  return it->second;
}

}  // namespace ritsu::engine::app
