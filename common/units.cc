#include "common/units.h"

#include <cctype>
#include <charconv>
#include <cmath>

#include <fmt/format.h>

namespace ritsu {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Reads a non-negative decimal number (digits with at most one '.') from the front of `s`.
bool ReadNumber(std::string_view& s, double* out) {
  size_t i = 0;
  bool dot = false, digit = false;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || (s[i] == '.' && !dot))) {
    if (s[i] == '.') dot = true; else digit = true;
    ++i;
  }
  if (!digit) return false;
  *out = std::strtod(std::string(s.substr(0, i)).c_str(), nullptr);
  s.remove_prefix(i);
  return true;
}

}  // namespace

Result<uint64_t> ParseSize(std::string_view text) {
  std::string s = Lower(text);
  std::string_view v = s;
  double n = 0;
  if (!ReadNumber(v, &n)) {
    return Status::InvalidArgument(fmt::format("size '{}': expected a number with an optional "
                                               "unit K, M, G or T (e.g. 20G)", text));
  }
  std::string unit(v);
  if (unit.ends_with("ib")) unit.resize(unit.size() - 2);
  else if (unit.ends_with("i") || (unit.size() == 2 && unit[1] == 'b')) unit.resize(unit.size() - 1);
  double mult;
  if (unit.empty() || unit == "b") mult = 1;
  else if (unit == "k") mult = 1024.0;
  else if (unit == "m") mult = 1024.0 * 1024;
  else if (unit == "g") mult = 1024.0 * 1024 * 1024;
  else if (unit == "t") mult = 1024.0 * 1024 * 1024 * 1024;
  else return Status::InvalidArgument(fmt::format("size '{}': unknown unit '{}' (use K, M, G or T)", text, std::string(v)));
  double bytes = n * mult;
  if (bytes > 1.8e19) return Status::InvalidArgument(fmt::format("size '{}': too large", text));
  return static_cast<uint64_t>(std::llround(bytes));
}

Result<int64_t> ParseDuration(std::string_view text) {
  std::string s = Lower(text);
  std::string_view v = s;
  if (v.empty()) return Status::InvalidArgument("duration '': expected e.g. 90s, 2h or 1h30m");
  double total = 0;
  while (!v.empty()) {
    double n = 0;
    if (!ReadNumber(v, &n)) {
      return Status::InvalidArgument(fmt::format("duration '{}': expected <number><unit> parts "
                                                 "with units ms, s, m, h, d (e.g. 1h30m)", text));
    }
    double mult;
    if (v.starts_with("ms")) { mult = 1; v.remove_prefix(2); }
    else if (v.starts_with("s")) { mult = 1000; v.remove_prefix(1); }
    else if (v.starts_with("m")) { mult = 60'000; v.remove_prefix(1); }
    else if (v.starts_with("h")) { mult = 3'600'000; v.remove_prefix(1); }
    else if (v.starts_with("d")) { mult = 86'400'000; v.remove_prefix(1); }
    else if (v.empty()) { mult = 1000; }
    else return Status::InvalidArgument(fmt::format("duration '{}': unknown unit at '{}' (use ms, s, m, h, d)", text, std::string(v)));
    total += n * mult;
  }
  if (total > 9.2e18) return Status::InvalidArgument(fmt::format("duration '{}': too large", text));
  return static_cast<int64_t>(std::llround(total));
}

std::string FormatSize(uint64_t bytes) {
  static const char* kUnits[] = {"B", "K", "M", "G", "T"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) { v /= 1024; ++u; }
  if (u == 0) return fmt::format("{}B", bytes);
  if (std::fabs(v - std::round(v)) < 0.05) return fmt::format("{}{}", std::llround(v), kUnits[u]);
  return fmt::format("{:.1f}{}", v, kUnits[u]);
}

std::string FormatDuration(int64_t ms) {
  if (ms < 1000) return fmt::format("{}ms", ms);
  int64_t s = ms / 1000;
  int64_t d = s / 86400, h = (s / 3600) % 24, m = (s / 60) % 60, sec = s % 60;
  std::string out;
  if (d) out += fmt::format("{}d", d);
  if (h) out += fmt::format("{}h", h);
  if (m) out += fmt::format("{}m", m);
  if (sec || out.empty()) out += fmt::format("{}s", sec);
  return out;
}

}  // namespace ritsu
