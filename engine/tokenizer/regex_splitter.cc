#define PCRE2_CODE_UNIT_WIDTH 8
#include "engine/tokenizer/regex_splitter.h"

#include <pcre2.h>

#include <fmt/format.h>

namespace ritsu::tokenizer {

namespace {

// Unicode White_Space, which is what \s means to Oniguruma (HF tokenizers' regex engine).
// PCRE2's \s under UCP differs: it also matches U+180E MONGOLIAN VOWEL SEPARATOR (White_Space
// only before Unicode 6.3), which changes how text around U+180E is split.
constexpr const char* kWhiteSpaceItems =
    "\\t\\n\\x{0B}\\f\\r\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}";

}  // namespace

Result<std::string> TranslateOnigurumaPattern(const std::string& pattern) {
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      const char e = pattern[++i];
      if (e == 's') {
        out += in_class ? std::string(kWhiteSpaceItems) : "[" + std::string(kWhiteSpaceItems) + "]";
      } else if (e == 'S') {
        if (in_class) {
          return Status::InvalidArgument("\\S inside a character class is not supported (offset " + std::to_string(i - 1) + ")");
        }
        out += "[^" + std::string(kWhiteSpaceItems) + "]";
      } else {
        out += c;
        out += e;
      }
      continue;
    }
    if (c == '[' && !in_class) {
      in_class = true;
      out += c;
      // A ']' right after '[' or '[^' is a literal member, not the end of the class.
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') out += pattern[++i];
      if (i + 1 < pattern.size() && pattern[i + 1] == ']') out += pattern[++i];
      continue;
    }
    if (c == ']' && in_class) in_class = false;
    out += c;
  }
  return out;
}

struct RegexSplitter::Impl {
  pcre2_code* code = nullptr;
  bool jit = false;
  ~Impl() {
    if (code) pcre2_code_free(code);
  }
};

RegexSplitter::~RegexSplitter() = default;

Result<std::unique_ptr<RegexSplitter>> RegexSplitter::Create(const std::string& onig_pattern) {
  auto translated = TranslateOnigurumaPattern(onig_pattern);
  if (!translated.ok()) return translated.status().Annotate("regex " + onig_pattern);
  const std::string& pattern = translated.value();
  int err = 0;
  PCRE2_SIZE err_offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_UCP, &err, &err_offset, nullptr);
  if (!code) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof(msg));
    return Status::InvalidArgument(fmt::format("regex {:?} (as PCRE2: {:?}) does not compile at offset {}: {}",
                                               onig_pattern, pattern, err_offset, reinterpret_cast<char*>(msg)));
  }
  std::unique_ptr<RegexSplitter> s(new RegexSplitter());
  s->impl_ = std::make_unique<Impl>();
  s->impl_->code = code;
  // JIT is an optimisation only: without it (unsupported CPU) the interpreter gives the same
  // matches.
  s->impl_->jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
  return s;
}

void RegexSplitter::Split(std::string_view text, std::vector<std::string_view>* pieces) const {
  if (text.empty()) return;
  // Match data is per call so that concurrent callers never share it.
  std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> md(
      pcre2_match_data_create_from_pattern(impl_->code, nullptr), &pcre2_match_data_free);
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t prev = 0;  // end of the last piece emitted
  size_t pos = 0;   // where the next search starts
  while (pos <= text.size()) {
    // The caller guarantees valid UTF-8 (the tokenizer repairs input first).
    int rc = impl_->jit
                 ? pcre2_jit_match(impl_->code, subject, text.size(), pos, PCRE2_NO_UTF_CHECK, md.get(), nullptr)
                 : pcre2_match(impl_->code, subject, text.size(), pos, PCRE2_NO_UTF_CHECK, md.get(), nullptr);
    if (rc < 0 && rc != PCRE2_ERROR_NOMATCH && impl_->jit) {
      // The JIT's fixed machine stack ran out; the interpreter keeps backtracking on the heap.
      rc = pcre2_match(impl_->code, subject, text.size(), pos, PCRE2_NO_UTF_CHECK, md.get(), nullptr);
    }
    // No further match: the rest is one gap. (A heap-limit error in the interpreter ends up
    // here too; Qwen's pattern needs no deep backtracking, see the long-input parity check.)
    if (rc < 0) break;
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.get());
    const size_t start = ov[0], end = ov[1];
    if (end == start) {
      // An empty match splits nothing; step one character forward as Oniguruma's iterator does.
      pos = start + 1;
      while (pos < text.size() && (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80) ++pos;
      continue;
    }
    if (start > prev) pieces->push_back(text.substr(prev, start - prev));
    pieces->push_back(text.substr(start, end - start));
    prev = pos = end;
  }
  if (prev < text.size()) pieces->push_back(text.substr(prev));
}

}  // namespace ritsu::tokenizer
