#include "cli/args.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "common/units.h"

namespace ritsu::cli {

size_t EditDistance(std::string_view a, std::string_view b) {
  // Optimal string alignment: insert, delete, substitute, and swap of neighbours each cost 1,
  // because "stauts" is one slip of the fingers away from "status", not two.
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates) {
  // A word that starts exactly one candidate is an abbreviation of it ("stat" -> "status").
  std::string prefix_of;
  int prefix_count = 0;
  for (const auto& c : candidates)
    if (!word.empty() && c.size() > word.size() && c.compare(0, word.size(), word) == 0) { prefix_of = c; ++prefix_count; }
  if (prefix_count == 1 && word.size() >= 2) return prefix_of;
  std::string best;
  size_t best_d = SIZE_MAX;
  for (const auto& c : candidates) {
    size_t d = EditDistance(word, c);
    if (d < best_d) { best_d = d; best = c; }
  }
  // A typo changes a few characters; allow up to a third of the word, at least 1, at most 3.
  size_t limit = std::clamp<size_t>(word.size() / 3, 1, 3);
  return best_d <= limit ? best : "";
}

Result<int64_t> ParseInt(std::string_view flag, std::string_view text, int64_t lo, int64_t hi) {
  auto not_a_number = [&] {
    return Status::InvalidArgument(fmt::format("{}: '{}' is not a whole number (expected one in [{}, {}])", flag, text, lo, hi));
  };
  std::string_view digits = text;
  if (digits.starts_with('+')) digits.remove_prefix(1);
  if (digits.empty() || digits[0] == '+' || (digits[0] == '-' && text[0] == '+')) return not_a_number();
  int64_t v = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec == std::errc::invalid_argument || end != digits.data() + digits.size()) return not_a_number();
  // A number past int64 is out of range like any other: say the range, not "not a number".
  if (ec == std::errc::result_out_of_range || v < lo || v > hi)
    return Status::InvalidArgument(fmt::format("{}: {} is out of range [{}, {}]", flag, text, lo, hi));
  return v;
}

Result<uint64_t> ParseTaskId(const std::string& text, const std::string& what) {
  auto n = ParseInt(what, text, 1, INT64_MAX);
  if (!n.ok())
    return Status::InvalidArgument(fmt::format("'{}' is not a {} (ids are numbers from 1, as printed by submit/status)", text, what));
  return uint64_t(*n);
}

Result<int64_t> ParseDurationFlag(std::string_view flag, std::string_view text, int64_t lo_ms, int64_t hi_ms) {
  auto ms = ParseDuration(text);
  if (!ms.ok()) return ms.status().Annotate(std::string(flag));
  if (*ms < lo_ms || *ms > hi_ms)
    return Status::InvalidArgument(fmt::format("{}: {} is out of range [{}, {}]", flag, text, FormatDuration(lo_ms), FormatDuration(hi_ms)));
  return *ms;
}

std::string ParsedArgs::Get(const std::string& flag, const std::string& fallback) const {
  auto it = values.find(flag);
  return it == values.end() || it->second.empty() ? fallback : it->second.back();
}

const std::vector<std::string>& ParsedArgs::GetAll(const std::string& flag) const {
  static const std::vector<std::string> kEmpty;
  auto it = values.find(flag);
  return it == values.end() ? kEmpty : it->second;
}

ArgParser::ArgParser(std::string command, std::string summary)
    : command_(std::move(command)), summary_(std::move(summary)) {}

ArgParser& ArgParser::Value(std::string name, std::string value_name, std::string help, bool repeatable) {
  flags_.push_back({std::move(name), std::move(value_name), std::move(help), true, repeatable});
  return *this;
}

ArgParser& ArgParser::Bool(std::string name, std::string help) {
  flags_.push_back({std::move(name), "", std::move(help), false, false});
  return *this;
}

ArgParser& ArgParser::Positionals(std::string usage, size_t min, size_t max) {
  positional_usage_ = std::move(usage);
  min_pos_ = min;
  max_pos_ = max;
  return *this;
}

ArgParser& ArgParser::Rest(std::string usage, bool required) {
  rest_usage_ = std::move(usage);
  rest_allowed_ = true;
  rest_required_ = required;
  return *this;
}

const ArgParser::Flag* ArgParser::Find(std::string_view name) const {
  for (const auto& f : flags_) if (f.name == name) return &f;
  return nullptr;
}

Status ArgParser::Error(const std::string& what) const {
  return Status::InvalidArgument(fmt::format("{}: {} (see '{} --help')", command_, what, command_));
}

Result<ParsedArgs> ArgParser::Parse(const std::vector<std::string>& args) const {
  ParsedArgs out;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      if (!rest_allowed_) return Error("unexpected '--': this command takes no command line after it");
      out.saw_double_dash = true;
      out.rest.assign(args.begin() + long(i) + 1, args.end());
      break;
    }
    if (a == "-h" || a == "--help") { out.help = true; continue; }
    if (a.size() > 1 && a[0] == '-' && !(a.size() > 1 && std::isdigit(static_cast<unsigned char>(a[1])))) {
      std::string name = a, value;
      bool inline_value = false;
      if (size_t eq = a.find('='); eq != std::string::npos) {
        name = a.substr(0, eq);
        value = a.substr(eq + 1);
        inline_value = true;
      }
      const Flag* f = Find(name);
      if (!f) {
        std::vector<std::string> names;
        for (const auto& fl : flags_) names.push_back(fl.name);
        std::string guess = DidYouMean(name, names);
        std::string hint = guess.empty() ? "" : fmt::format("; did you mean {}?", guess);
        if (rest_allowed_ && !out.saw_double_dash)
          hint += " (put the task's own command after '--')";
        return Error(fmt::format("unknown flag {}{}", name, hint));
      }
      if (!f->takes_value) {
        if (inline_value) return Error(fmt::format("{} takes no value (got '{}')", name, value));
        out.values[name].push_back("true");
        continue;
      }
      if (!inline_value) {
        if (i + 1 >= args.size()) return Error(fmt::format("{} needs a value: {} {}", name, name, f->value_name));
        value = args[++i];
      }
      auto& vals = out.values[name];
      if (!vals.empty() && !f->repeatable) return Error(fmt::format("{} given more than once", name));
      vals.push_back(value);
      continue;
    }
    out.positionals.push_back(a);
  }
  if (out.help) return out;
  if (out.positionals.size() < min_pos_)
    return Error(fmt::format("missing {}", positional_usage_.empty() ? "argument" : positional_usage_));
  if (out.positionals.size() > max_pos_) {
    std::string extra = out.positionals[max_pos_];
    std::string hint = rest_allowed_ ? fmt::format(" (put the task's command after '--': -- {} ...)", extra) : "";
    return Error(fmt::format("unexpected argument '{}'{}", extra, hint));
  }
  if (rest_required_ && out.rest.empty())
    return Error(fmt::format("missing {} after '--'", rest_usage_));
  return out;
}

std::string ArgParser::Usage() const {
  std::string u = fmt::format("usage: {}", command_);
  if (!flags_.empty()) u += " [flags]";
  if (!positional_usage_.empty()) u += " " + positional_usage_;
  if (rest_allowed_) u += rest_required_ ? fmt::format(" -- {}", rest_usage_) : fmt::format(" [-- {}]", rest_usage_);
  u += "\n";
  if (!summary_.empty()) u += "\n" + summary_ + "\n";
  if (!flags_.empty()) {
    u += "\nflags:\n";
    for (const auto& f : flags_) {
      std::string left = f.takes_value ? fmt::format("{} {}", f.name, f.value_name) : f.name;
      u += fmt::format("  {:<24} {}{}\n", left, f.help, f.repeatable ? " (repeatable)" : "");
    }
  }
  return u;
}

}  // namespace ritsu::cli
