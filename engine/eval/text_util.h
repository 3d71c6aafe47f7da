// UTF-8 helpers shared by the parser and the retriever: NFKC normalisation (full-width letters
// and digits become ASCII, so "ｂ" and "b" read the same) and code-point splitting.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ritsu::eval {

// NFKC via libutf8proc. Invalid UTF-8 is returned unchanged rather than dropped, so a broken
// byte in a model response never loses the rest of the text.
std::string NormalizeNfkc(std::string_view text);

// Splits valid UTF-8 into one string per code point (invalid bytes become one element each).
std::vector<std::string> SplitCodePoints(std::string_view text);

// ASCII lower-casing; other bytes untouched.
std::string AsciiLower(std::string_view text);

std::string Trim(std::string_view text);

}  // namespace ritsu::eval
