// The GPT-2 byte-level alphabet: every byte 0..255 is shown as one printable Unicode
// character, so a BPE vocabulary of strings can cover arbitrary bytes. Printable Latin-1
// bytes ('!'..'~', '¡'..'¬', '®'..'ÿ') stand for themselves; the other 68 bytes, in
// increasing order, become U+0100, U+0101, ... (so ' ' is 'Ġ' = U+0120, '\n' is 'Ċ').
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace ritsu::tokenizer {

class ByteLevelAlphabet {
 public:
  ByteLevelAlphabet();

  // Appends the byte-level form (UTF-8) of every byte of `bytes` to *out.
  void Encode(std::string_view bytes, std::string* out) const;
  // Maps a byte-level string back to bytes. Returns false (and leaves *out partly written)
  // when a character is not in the alphabet; HF's ByteLevel decoder then uses the token's
  // own UTF-8 bytes instead.
  bool Decode(std::string_view chars, std::string* out) const;

 private:
  std::array<std::string, 256> byte_to_chars_;  // UTF-8 of the character for each byte
  std::array<int16_t, 324> char_to_byte_;       // code point (< 324) -> byte, or -1
};

// One shared instance (the table is constant).
const ByteLevelAlphabet& GetByteLevelAlphabet();

}  // namespace ritsu::tokenizer
