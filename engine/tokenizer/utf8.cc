#include "engine/tokenizer/utf8.h"

#include <cstdlib>
#include <memory>

#include <utf8proc.h>

namespace ritsu::tokenizer {

size_t Utf8SequenceLength(std::string_view s, size_t i, size_t* maximal_subpart,
                          bool* truncated) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  *truncated = false;
  *maximal_subpart = 1;
  if (c < 0x80) return 1;
  size_t need;
  // Bounds of the second byte (Unicode Table 3-7): they exclude overlongs, surrogates and
  // code points above U+10FFFF; later bytes are always 80..BF.
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    need = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;  // a continuation byte or C0, C1, F5..FF: a subpart of length 1
  }
  size_t k = 1;
  for (; k < need; ++k) {
    if (i + k >= s.size()) {
      *maximal_subpart = k;
      *truncated = true;
      return 0;
    }
    const unsigned char lo_k = k == 1 ? lo : 0x80, hi_k = k == 1 ? hi : 0xBF;
    if (b(i + k) < lo_k || b(i + k) > hi_k) {
      *maximal_subpart = k;
      return 0;
    }
  }
  return need;
}

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    size_t sub;
    bool trunc;
    const size_t n = Utf8SequenceLength(s, i, &sub, &trunc);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string RepairUtf8(std::string_view s) {
  if (IsValidUtf8(s)) return std::string(s);
  std::string out;
  out.reserve(s.size() + 8);
  size_t i = 0;
  while (i < s.size()) {
    size_t sub;
    bool trunc;
    const size_t n = Utf8SequenceLength(s, i, &sub, &trunc);
    if (n > 0) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out.append("\xEF\xBF\xBD");
      i += sub;
    }
  }
  return out;
}

size_t IncompleteUtf8Tail(std::string_view s) {
  // A sequence is at most 4 bytes, so only the last 3 bytes can start an incomplete one.
  const size_t from = s.size() > 3 ? s.size() - 3 : 0;
  for (size_t i = from; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0xC0) continue;  // ASCII or continuation: cannot start a sequence
    size_t sub;
    bool trunc;
    if (Utf8SequenceLength(s, i, &sub, &trunc) == 0 && trunc) return s.size() - i;
  }
  return 0;
}

char32_t NextCodePoint(std::string_view s, size_t* i) {
  const auto b = [&](size_t k) { return static_cast<char32_t>(static_cast<unsigned char>(s[k])); };
  const char32_t c = b(*i);
  if (c < 0x80) {
    *i += 1;
    return c;
  }
  if (c < 0xE0) {
    const char32_t cp = ((c & 0x1F) << 6) | (b(*i + 1) & 0x3F);
    *i += 2;
    return cp;
  }
  if (c < 0xF0) {
    const char32_t cp = ((c & 0x0F) << 12) | ((b(*i + 1) & 0x3F) << 6) | (b(*i + 2) & 0x3F);
    *i += 3;
    return cp;
  }
  const char32_t cp = ((c & 0x07) << 18) | ((b(*i + 1) & 0x3F) << 12) |
                      ((b(*i + 2) & 0x3F) << 6) | (b(*i + 3) & 0x3F);
  *i += 4;
  return cp;
}

char32_t PrevCodePoint(std::string_view s, size_t end, size_t* start) {
  size_t k = end - 1;
  while (k > 0 && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
  *start = k;
  size_t j = k;
  return NextCodePoint(s, &j);
}

void AppendUtf8(char32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string NfcNormalize(std::string_view s) {
  bool ascii = true;
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) return std::string(s);
  utf8proc_uint8_t* dst = nullptr;
  // Explicit length (no UTF8PROC_NULLTERM): text may contain NUL bytes.
  const utf8proc_ssize_t n =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                   static_cast<utf8proc_ssize_t>(s.size()), &dst,
                   static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  if (n < 0) return std::string(s);  // only on invalid UTF-8, which callers repair first
  std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> holder(dst, &std::free);
  return std::string(reinterpret_cast<const char*>(dst), static_cast<size_t>(n));
}

bool IsUnicodeWhitespace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || c == 0x3000;
}

bool IsUnicodeAlphanumeric(char32_t c) {
  // Approximation of Alphabetic || Numeric by general category (letters, numbers); utf8proc
  // has no Alphabetic property table. Only added tokens with single_word=true use this, and
  // no Qwen tokenizer has one.
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
      return true;
    default:
      return false;
  }
}

}  // namespace ritsu::tokenizer
