// UTF-8 helpers shared by the tokenizer: lossy repair of ill-formed input (the way Rust's
// String::from_utf8_lossy and Python's errors="replace" do it), detection of an incomplete
// sequence at the end of a buffer (for streaming decode), NFC through libutf8proc, and the
// few Unicode character classes that HF tokenizers' added-token matching uses.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ritsu::tokenizer {

// Length of the well-formed UTF-8 sequence starting at s[i], or 0 if the bytes there are not
// a complete well-formed sequence. When it returns 0, *maximal_subpart is set to the length of
// the maximal subpart of an ill-formed sequence (Unicode 15, 3.9 "U+FFFD substitution of
// maximal subparts"; always >= 1), and *truncated tells whether that subpart runs into the
// end of the buffer (it could still become valid with more bytes).
size_t Utf8SequenceLength(std::string_view s, size_t i, size_t* maximal_subpart, bool* truncated);

// True when every byte sequence of s is well-formed UTF-8.
bool IsValidUtf8(std::string_view s);

// Replaces every maximal subpart of an ill-formed sequence with U+FFFD. Valid input is
// returned unchanged.
std::string RepairUtf8(std::string_view s);

// Bytes at the end of s that begin a well-formed sequence which is still incomplete (0..3).
// A streaming decoder holds these back until the next chunk arrives.
size_t IncompleteUtf8Tail(std::string_view s);

// Decodes the code point at s[i] (s must be valid UTF-8 there) and advances i.
char32_t NextCodePoint(std::string_view s, size_t* i);
// Decodes the code point that ends at s[end) (s valid UTF-8), and sets *start to its start.
char32_t PrevCodePoint(std::string_view s, size_t end, size_t* start);
void AppendUtf8(char32_t cp, std::string* out);

// Canonical composition (NFC) of valid UTF-8 text. ASCII text is returned as is.
std::string NfcNormalize(std::string_view s);

// Rust's char::is_whitespace (Unicode White_Space) and char::is_alphanumeric (Alphabetic or
// Numeric): what HF tokenizers uses for added tokens' lstrip/rstrip and single_word.
bool IsUnicodeWhitespace(char32_t c);
bool IsUnicodeAlphanumeric(char32_t c);

}  // namespace ritsu::tokenizer
