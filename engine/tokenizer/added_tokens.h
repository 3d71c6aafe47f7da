// Added tokens (tokenizer.json "added_tokens": <|im_start|>, <think>, ...) are cut out of the
// text before normalization and pre-tokenization, as HF tokenizers' AddedVocabulary does:
// leftmost-longest, non-overlapping matches of the token contents; `lstrip`/`rstrip` widen a
// match over adjacent Unicode whitespace; `single_word` rejects a match that touches a word
// character. Tokens with normalized=false are matched on the raw text, tokens with
// normalized=true on the NFC-normalized remainder (the tokenizer runs two matchers).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ritsu::tokenizer {

struct AddedToken {
  int32_t id = -1;
  std::string content;
  bool special = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = false;
  bool single_word = false;
};

// A piece of the input: either an added token (id >= 0) or plain text (id == -1) to be
// normalized and pre-tokenized. Offsets are bytes into the matched text.
struct Segment {
  size_t begin;
  size_t end;
  int32_t id;
};

class AddedTokenMatcher {
 public:
  AddedTokenMatcher() = default;
  // `tokens` are matched by their `content` (for normalized tokens pass the normalized
  // content). Empty contents are ignored.
  explicit AddedTokenMatcher(std::vector<AddedToken> tokens);

  bool empty() const { return tokens_.empty(); }
  // Splits `text` (valid UTF-8) into segments covering it in order.
  void Split(std::string_view text, std::vector<Segment>* segments) const;

 private:
  // Index of the longest token whose content starts at text[pos], or -1.
  int LongestMatchAt(std::string_view text, size_t pos) const;

  std::vector<AddedToken> tokens_;
  // by_first_byte_[b]: indices of tokens starting with byte b, longest first.
  std::vector<std::vector<int>> by_first_byte_;
};

}  // namespace ritsu::tokenizer
