#include "engine/tokenizer/byte_level.h"

#include "engine/tokenizer/utf8.h"

namespace ritsu::tokenizer {

ByteLevelAlphabet::ByteLevelAlphabet() {
  char_to_byte_.fill(-1);
  const auto printable = [](int b) {
    return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
  };
  int next_extra = 256;
  for (int b = 0; b < 256; ++b) {
    const char32_t cp = printable(b) ? static_cast<char32_t>(b) : static_cast<char32_t>(next_extra++);
    AppendUtf8(cp, &byte_to_chars_[b]);
    char_to_byte_[cp] = static_cast<int16_t>(b);
  }
}

void ByteLevelAlphabet::Encode(std::string_view bytes, std::string* out) const {
  for (unsigned char b : bytes) out->append(byte_to_chars_[b]);
}

bool ByteLevelAlphabet::Decode(std::string_view chars, std::string* out) const {
  if (!IsValidUtf8(chars)) return false;
  size_t i = 0;
  while (i < chars.size()) {
    const char32_t cp = NextCodePoint(chars, &i);
    if (cp >= char_to_byte_.size() || char_to_byte_[cp] < 0) return false;
    out->push_back(static_cast<char>(char_to_byte_[cp]));
  }
  return true;
}

const ByteLevelAlphabet& GetByteLevelAlphabet() {
  static const ByteLevelAlphabet alphabet;
  return alphabet;
}

}  // namespace ritsu::tokenizer
