// The Split pre-tokenizer of tokenizer.json with behavior "Isolated" and invert=false: every
// regex match becomes its own piece, and so does every gap between matches. The pattern is
// taken from the file and compiled with PCRE2 in UTF + UCP mode (so \s, \p{L}, \p{N} and
// case-insensitive groups follow Unicode, as Oniguruma does for HF tokenizers) and JIT.
//
// Thread safety: Split is const and safe to call from several threads.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ritsu::tokenizer {

// Rewrites an Oniguruma pattern for PCRE2: \s and \S become explicit Unicode White_Space
// classes (see regex_splitter.cc for why). Everything else used by tokenizer.json patterns
// (\p{L}, \p{N}, (?i:...), (?!...)) means the same in both engines.
Result<std::string> TranslateOnigurumaPattern(const std::string& pattern);

class RegexSplitter {
 public:
  // `onig_pattern` is the pattern as written in tokenizer.json (Oniguruma syntax).
  static Result<std::unique_ptr<RegexSplitter>> Create(const std::string& onig_pattern);
  ~RegexSplitter();

  // Appends the pieces of `text` (valid UTF-8) to *pieces, in order; their concatenation is
  // `text`. Empty pieces are never produced.
  void Split(std::string_view text, std::vector<std::string_view>* pieces) const;

 private:
  RegexSplitter() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ritsu::tokenizer
