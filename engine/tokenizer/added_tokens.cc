#include "engine/tokenizer/added_tokens.h"

#include <algorithm>

#include "engine/tokenizer/utf8.h"

namespace ritsu::tokenizer {

AddedTokenMatcher::AddedTokenMatcher(std::vector<AddedToken> tokens) : by_first_byte_(256) {
  for (auto& t : tokens) {
    if (!t.content.empty()) tokens_.push_back(std::move(t));
  }
  for (int i = 0; i < static_cast<int>(tokens_.size()); ++i) {
    by_first_byte_[static_cast<unsigned char>(tokens_[i].content[0])].push_back(i);
  }
  for (auto& list : by_first_byte_) {
    std::stable_sort(list.begin(), list.end(), [&](int a, int b) {
      return tokens_[a].content.size() > tokens_[b].content.size();
    });
  }
}

int AddedTokenMatcher::LongestMatchAt(std::string_view text, size_t pos) const {
  for (int i : by_first_byte_[static_cast<unsigned char>(text[pos])]) {
    if (text.substr(pos).starts_with(tokens_[i].content)) return i;
  }
  return -1;
}

void AddedTokenMatcher::Split(std::string_view text, std::vector<Segment>* segments) const {
  size_t start_offset = 0;  // end of the last emitted segment
  size_t pos = 0;           // where the next match may start
  while (!tokens_.empty() && pos < text.size()) {
    const int ti = LongestMatchAt(text, pos);
    if (ti < 0) {
      ++pos;
      continue;
    }
    const AddedToken& tok = tokens_[ti];
    size_t start = pos, stop = pos + tok.content.size();
    pos = stop;  // matches never overlap; the search resumes after the raw match
    if (tok.single_word) {
      size_t cp_start;
      const bool word_before = start > 0 && IsUnicodeAlphanumeric(PrevCodePoint(text, start, &cp_start));
      size_t k = stop;
      const bool word_after = stop < text.size() && IsUnicodeAlphanumeric(NextCodePoint(text, &k));
      if (word_before || word_after) continue;
    }
    if (tok.lstrip) {
      size_t s = start;
      while (s > 0) {
        size_t cp_start;
        if (!IsUnicodeWhitespace(PrevCodePoint(text, s, &cp_start))) break;
        s = cp_start;
      }
      // Whitespace already swallowed by the previous match's rstrip is not taken twice.
      start = std::max(s, start_offset);
    }
    if (tok.rstrip) {
      while (stop < text.size()) {
        size_t k = stop;
        if (!IsUnicodeWhitespace(NextCodePoint(text, &k))) break;
        stop = k;
      }
      // Resume after the swallowed whitespace so that segments never overlap.
      pos = std::max(pos, stop);
    }
    if (start_offset < start) segments->push_back({start_offset, start, -1});
    segments->push_back({start, stop, tok.id});
    start_offset = stop;
  }
  if (start_offset < text.size()) segments->push_back({start_offset, text.size(), -1});
}

}  // namespace ritsu::tokenizer
