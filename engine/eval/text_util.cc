#include "engine/eval/text_util.h"

#include <utf8proc.h>

#include <cstdlib>

namespace ritsu::eval {

std::string NormalizeNfkc(std::string_view text) {
  utf8proc_uint8_t* out = nullptr;
  utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                                    static_cast<utf8proc_ssize_t>(text.size()), &out,
                                    static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE |
                                                                   UTF8PROC_COMPAT));
  if (n < 0) return std::string(text);
  std::string result(reinterpret_cast<char*>(out), static_cast<size_t>(n));
  std::free(out);
  return result;
}

std::vector<std::string> SplitCodePoints(std::string_view text) {
  std::vector<std::string> cps;
  size_t i = 0;
  while (i < text.size()) {
    utf8proc_int32_t cp = 0;
    utf8proc_ssize_t len = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(text.data() + i),
                                            static_cast<utf8proc_ssize_t>(text.size() - i), &cp);
    if (len <= 0) len = 1;
    cps.emplace_back(text.substr(i, static_cast<size_t>(len)));
    i += static_cast<size_t>(len);
  }
  return cps;
}

std::string AsciiLower(std::string_view text) {
  std::string s(text);
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

std::string Trim(std::string_view text) {
  const char* ws = " \t\r\n";
  size_t b = text.find_first_not_of(ws);
  if (b == std::string_view::npos) return "";
  size_t e = text.find_last_not_of(ws);
  return std::string(text.substr(b, e - b + 1));
}

}  // namespace ritsu::eval
