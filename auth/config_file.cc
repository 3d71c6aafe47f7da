#include "auth/config_file.h"

#include <set>

#include <fmt/format.h>
#include <toml++/toml.h>  // Debian ships toml.h (the brief says toml.hpp)

#include "auth/file_trust.h"

namespace ritsu::auth {
namespace {

// One TOML scalar as flag text; nullopt for a type that has no flag spelling.
std::optional<std::string> ScalarText(const toml::node& node) {
  if (auto s = node.as_string()) return s->get();
  if (auto i = node.as_integer()) return std::to_string(i->get());
  if (auto f = node.as_floating_point()) return fmt::format("{}", f->get());
  return std::nullopt;
}

std::string FlagNameOf(const std::string& token) {
  std::string name = token.substr(0, token.find('='));
  return name;
}

}  // namespace

Result<std::vector<std::string>> ConfigFileArgs(const std::string& path) {
  // A daemon's config names its allowlist and key files: another user who could edit it could
  // point the daemon at a list of their own.
  RITSU_RETURN_IF_ERROR(CheckTrustedFile(path, "config file"));
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return Status::InvalidArgument(fmt::format("config file {} line {} column {}: {}", path,
                                               where.line, where.column, e.description()));
  }
  std::vector<std::string> args;
  for (const auto& [key, node] : table) {
    std::string flag = "--" + std::string(key.str());
    auto bad = [&](std::string_view why) {
      return Status::InvalidArgument(fmt::format("config file {} key '{}': {}", path, key.str(), why));
    };
    if (auto b = node.as_boolean()) {
      if (b->get()) args.push_back(flag);
      continue;
    }
    if (auto arr = node.as_array()) {
      for (const auto& el : *arr) {
        auto text = ScalarText(el);
        if (!text) return bad("array elements must be strings or numbers");
        args.push_back(flag + "=" + *text);
      }
      continue;
    }
    auto text = ScalarText(node);
    if (!text) return bad("must be a string, number, boolean or array (tables are not flags)");
    args.push_back(flag + "=" + *text);
  }
  return args;
}

std::vector<std::string> MergeConfigArgs(const std::vector<std::string>& config_args,
                                         const std::vector<std::string>& cli_args) {
  std::set<std::string> given;
  for (const auto& a : cli_args) {
    if (a == "--") break;
    if (a.starts_with("--")) given.insert(FlagNameOf(a));
  }
  std::vector<std::string> out;
  for (const auto& a : config_args) {
    if (given.count(FlagNameOf(a)) == 0) out.push_back(a);
  }
  out.insert(out.end(), cli_args.begin(), cli_args.end());
  return out;
}

Result<std::vector<std::string>> ExpandConfigFlag(const std::vector<std::string>& args) {
  std::vector<std::string> rest;
  std::string config_path;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      rest.insert(rest.end(), args.begin() + static_cast<long>(i), args.end());
      break;
    }
    if (a == "--config") {
      if (i + 1 >= args.size()) return Status::InvalidArgument("--config needs a FILE");
      if (!config_path.empty()) return Status::InvalidArgument("--config given twice");
      config_path = args[++i];
    } else if (a.starts_with("--config=")) {
      if (!config_path.empty()) return Status::InvalidArgument("--config given twice");
      config_path = a.substr(9);
    } else {
      rest.push_back(a);
    }
  }
  if (config_path.empty()) return rest;
  RITSU_ASSIGN_OR_RETURN(auto config_args, ConfigFileArgs(config_path));
  return MergeConfigArgs(config_args, rest);
}

}  // namespace ritsu::auth
