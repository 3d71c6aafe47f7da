#include "engine/eval/flags.h"

#include <cerrno>
#include <cstdlib>

namespace ritsu::eval {

Status Flags::Parse(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.rfind("--", 0) != 0 || a == "--") {
      positional_.push_back(a);
      continue;
    }
    std::string name = a, value;
    bool inline_value = false;
    if (size_t eq = a.find('='); eq != std::string::npos) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
      inline_value = true;
    }
    if (switches_.count(name)) {
      if (inline_value) return Status::InvalidArgument(name + " takes no value");
      set_switches_.insert(name);
    } else if (valued_.count(name)) {
      if (!inline_value) {
        if (i + 1 >= args.size()) return Status::InvalidArgument(name + " needs a value");
        value = args[++i];
      }
      values_[name] = value;
    } else {
      std::string known;
      for (const auto& s : valued_) known += " " + s;
      for (const auto& s : switches_) known += " " + s;
      return Status::InvalidArgument("unknown flag " + name + " (known:" + known + ")");
    }
  }
  return Status::Ok();
}

std::optional<std::string> Flags::Get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

std::string Flags::GetOr(const std::string& name, const std::string& def) const {
  auto v = Get(name);
  return v ? *v : def;
}

Result<long long> Flags::GetInt(const std::string& name, long long def, long long min_value) const {
  auto v = Get(name);
  if (!v) return def;
  errno = 0;
  char* end = nullptr;
  long long n = std::strtoll(v->c_str(), &end, 10);
  if (v->empty() || *end || errno)
    return Status::InvalidArgument(name + " must be an integer, got \"" + *v + "\"");
  if (n < min_value)
    return Status::InvalidArgument(name + " must be >= " + std::to_string(min_value) + ", got " + *v);
  return n;
}

std::vector<std::string> ArgsOf(int argc, char** argv, int first) {
  std::vector<std::string> args;
  for (int i = first; i < argc; ++i) args.emplace_back(argv[i]);
  return args;
}

}  // namespace ritsu::eval
