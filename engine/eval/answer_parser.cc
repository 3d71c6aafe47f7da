#include "engine/eval/answer_parser.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <set>
#include <vector>

#include "engine/eval/text_util.h"

namespace ritsu::eval {
namespace {

// A compiled UTF-8, case-insensitive PCRE2 pattern; patterns are constants of this file, so a
// compile failure is a programming error and aborts loudly.
class Pattern {
 public:
  explicit Pattern(const char* re) {
    int err = 0;
    PCRE2_SIZE off = 0;
    code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(re), PCRE2_ZERO_TERMINATED,
                          PCRE2_UTF | PCRE2_CASELESS | PCRE2_UCP, &err, &off, nullptr);
    if (!code_) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof msg);
      std::fprintf(stderr, "answer_parser: bad pattern at %zu: %s\n", static_cast<size_t>(off),
                   reinterpret_cast<char*>(msg));
      std::abort();
    }
  }
  ~Pattern() { pcre2_code_free(code_); }
  Pattern(const Pattern&) = delete;
  Pattern& operator=(const Pattern&) = delete;

  struct Match {
    size_t start;      // of the whole match
    size_t group_end;  // end of the first capture group that took part
    std::string group;
  };
  // Every non-overlapping match with the first capture group that took part.
  std::vector<Match> FindAll(std::string_view s) const {
    std::vector<Match> out;
    pcre2_match_data* md = pcre2_match_data_create_from_pattern(code_, nullptr);
    size_t start = 0;
    while (start <= s.size()) {
      int rc = pcre2_match(code_, reinterpret_cast<PCRE2_SPTR>(s.data()), s.size(), start, 0, md,
                           nullptr);
      if (rc < 0) break;
      PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
      Match m{ov[0], ov[1], ""};
      for (int g = 1; g < rc; ++g) {
        if (ov[2 * g] != PCRE2_UNSET) {
          m.group.assign(s.substr(ov[2 * g], ov[2 * g + 1] - ov[2 * g]));
          m.group_end = ov[2 * g + 1];
          break;
        }
      }
      out.push_back(std::move(m));
      start = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
      // Step over a whole UTF-8 code point when an empty match sits on a lead byte.
      while (start < s.size() && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) ++start;
    }
    pcre2_match_data_free(md);
    return out;
  }

 private:
  pcre2_code* code_ = nullptr;
};

// The choice token: one letter a-d not glued to other Latin letters/digits, or a digit 1-4 not
// followed by something that makes it a count ("1文字") or a number ("12").
constexpr const char* kChoice =
    R"((?<![a-z0-9])([a-d](?![a-z0-9])|[1-4](?![0-9a-z]|[\p{Han}\p{Hiragana}\p{Katakana}])))";

std::string Join(const char* a, const char* b, const char* c = "") {
  return std::string(a) + b + c;
}

const Pattern& MarkerPattern() {
  // marker, optional closing bracket, optional short note in brackets, connectors, optional
  // quote/bracket, the choice. A following list separator (", b") is checked by the caller.
  static const Pattern p(Join(
      R"((?:(?:final answer|answer|最終的な答え|最終回答|回答|解答|正解|答え|結論)[】\]」』]?|\\boxed\{\s*(?:\\text(?:bf)?\{)?)\s*)"
      R"((?:\([^()\n]{0,20}\)\s*)?(?:(?:is|は|:|=|→|->|-)\s*)*(?:選択肢|option|choice)?\s*[「『(\[]?\s*)",
      kChoice).c_str());
  return p;
}

const Pattern& WeakPattern() {
  static const Pattern p(Join(
      R"((?:のは|は)\s*(?:選択肢)?\s*[「『(\[]?\s*)", kChoice,
      R"(\s*[」』)\]]?\s*(?:です|である|だ|。))"
      R"(|(?:選択肢|option|choice)\s*[「『(\[]?\s*)"
      R"(([a-d])(?![a-z0-9])\s*[」』)\]]?\s*(?:が|は|is)\s*(?:最も)?(?:正し|正解|適切|correct|the correct|the answer|the best|the most))"
      R"(|(?<![a-z0-9])([a-d])\s*[」』)\]]?\s*(?:が|を)\s*(?:正解|選))").c_str());
  return p;
}

char ToLetter(const std::string& tok) {
  if (tok.empty()) return 0;
  char c = tok[0];
  if (c >= 'a' && c <= 'd') return c;
  if (c >= 'A' && c <= 'D') return static_cast<char>(c - 'A' + 'a');
  if (c >= '1' && c <= '4') return static_cast<char>('a' + (c - '1'));
  return 0;
}

// True when the token at `pos` is followed by ", b" / "、c" / "/d" / " or b": a list of choices.
bool FollowedByList(std::string_view s, size_t pos) {
  // A newline followed by another lone choice letter: the choices printed one per line.
  {
    size_t j = pos;
    while (j < s.size() && (s[j] == ' ' || s[j] == '\r')) ++j;
    if (j < s.size() && s[j] == '\n') {
      size_t k = j + 1;
      while (k < s.size() && s[k] == ' ') ++k;
      if (k < s.size() && s[k] >= 'a' && s[k] <= 'd' &&
          (k + 1 >= s.size() || s[k + 1] == '\n' || s[k + 1] == '\r'))
        return true;
    }
  }
  size_t i = pos;
  while (i < s.size() && s[i] == ' ') ++i;
  std::string_view rest = s.substr(i);
  for (std::string_view sep : {",", "、", "/", "・", "or ", "and ", "と", "or"}) {
    if (rest.substr(0, sep.size()) == sep) {
      size_t j = i + sep.size();
      while (j < s.size() && s[j] == ' ') ++j;
      if (j < s.size() && ToLetter(std::string(1, s[j])) != 0 &&
          (j + 1 >= s.size() || !std::isalnum(static_cast<unsigned char>(s[j + 1]))))
        return true;
    }
  }
  return false;
}

std::string Clean(std::string_view response) {
  std::string s = NormalizeNfkc(response);
  // Strip markdown emphasis and code ticks; they only decorate the answer.
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if ((s[i] == '*' || s[i] == '_') && i + 1 < s.size() && s[i + 1] == s[i]) {
      ++i;
      continue;
    }
    if (s[i] == '`') continue;
    out.push_back(s[i]);
  }
  return out;
}

// Collects (position, letter) statements from `pattern`, skipping list-like ones.
std::vector<std::pair<size_t, char>> Statements(const Pattern& pattern, const std::string& s) {
  std::vector<std::pair<size_t, char>> st;
  for (auto& m : pattern.FindAll(s)) {
    char letter = ToLetter(m.group);
    if (!letter) continue;
    if (FollowedByList(s, m.group_end)) continue;
    st.emplace_back(m.start, letter);
  }
  return st;
}

ParsedAnswer Decide(const std::vector<std::pair<size_t, char>>& st, const char* rule) {
  std::set<char> distinct;
  for (auto& [pos, letter] : st) distinct.insert(letter);
  char last = st.back().second;
  if (distinct.size() >= 3) {
    size_t last_count = 0;
    for (auto& [pos, letter] : st) last_count += letter == last;
    if (2 * last_count <= st.size()) return {0, "conflict"};
  }
  return {last, rule};
}

}  // namespace

ParsedAnswer ParseAnswer(std::string_view response) {
  std::string s = Clean(response);

  // <think> blocks: keep only what follows the last closed block; an unclosed block means the
  // model never left its reasoning.
  size_t close = s.rfind("</think>");
  if (close != std::string::npos) {
    s = s.substr(close + 8);
  } else if (s.find("<think>") != std::string::npos) {
    s = s.substr(0, s.find("<think>"));
    if (Trim(s).empty()) return {0, "think-unclosed"};
  }

  std::string t = Trim(s);
  // Rule 2: the whole response is one choice, possibly bracketed or with a full stop.
  {
    std::string core = t;
    auto strip = [&](std::string_view set_front, std::string_view set_back) {
      while (!core.empty() && set_front.find(core.front()) != std::string_view::npos) core.erase(0, 1);
      while (!core.empty() && set_back.find(core.back()) != std::string_view::npos) core.pop_back();
    };
    strip("([", ").]:");
    for (std::string_view q : {"「", "」", "。"}) {
      if (core.size() >= q.size() && core.compare(0, q.size(), q) == 0) core.erase(0, q.size());
      if (core.size() >= q.size() && core.compare(core.size() - q.size(), q.size(), q) == 0)
        core.erase(core.size() - q.size());
    }
    if (core.size() == 1 && ToLetter(core)) return {ToLetter(core), "bare"};
  }

  // Rule 3: explicit statements, with a leading bare letter on the first line as the first.
  std::vector<std::pair<size_t, char>> st;
  {
    std::string first = Trim(t.substr(0, t.find('\n')));
    while (!first.empty() && (first.back() == '.' || first.back() == ')')) first.pop_back();
    if (!first.empty() && first.front() == '(') first.erase(0, 1);
    if (first.size() == 1 && ToLetter(first)) st.emplace_back(0, ToLetter(first));
  }
  for (auto& x : Statements(MarkerPattern(), t)) st.push_back(x);
  if (!st.empty()) return Decide(st, "marker");

  // Rule 5: weaker phrasings.
  auto weak = Statements(WeakPattern(), t);
  if (!weak.empty()) return Decide(weak, "weak");
  return {0, "none"};
}

}  // namespace ritsu::eval
