// Extracts the chosen letter (a-d) from a model's free-text answer to a four-choice question.
//
// Rule (docs/eval.md "Answer parser" has the full list with examples):
//  1. NFKC-normalise (ｂ -> b, ：-> :), drop markdown emphasis (** __ `), drop closed
//     <think>...</think> blocks; text after an unclosed <think> is reasoning that never reached
//     an answer, so it is cut off.
//  2. A response that is only one letter a-d / A-D or one digit 1-4 (optionally wrapped in
//     brackets or followed by a full stop) is that answer. Digits map 1->a ... 4->d.
//  3. Otherwise every explicit answer statement is collected in order: a marker (Answer,
//     回答, 解答, 正解, 答え, 最終的な答え, 結論) optionally followed by a short bracketed note
//     such as （1文字のみ）, then は / : / is / = / →, then one letter as a standalone token; LaTeX \boxed{c} / \boxed{\text{C}} also
//     counts as a marker. A
//     leading bare letter on the first line counts as the first statement. A marker followed
//     by a list ("回答: a, b, c, d", or the letters one per line) commits to nothing and is
//     skipped.
//  4. Conflicts: the LAST statement wins (a model that revises itself means its final
//     answer). When the statements name three or more different letters the model is cycling
//     through the choices; then the last letter wins only if more than half of all statements
//     name it (a degenerate loop that settled on one letter), otherwise unknown.
//  5. With no explicit statement, weaker phrasings are tried the same way ("正しいのは c です",
//     "選択肢 b が正しい", "option d is correct", "c が正解").
//  6. Nothing found: unknown.
#pragma once

#include <string>
#include <string_view>

namespace ritsu::eval {

// The parse result: 'a'..'d', or 0 for unknown. `Letter()` gives "a".."d" / "unknown".
struct ParsedAnswer {
  char letter = 0;
  // Which rule decided: "bare", "marker", "weak", "none", "conflict", "think-unclosed".
  std::string rule;
  std::string Letter() const { return letter ? std::string(1, letter) : std::string("unknown"); }
};

ParsedAnswer ParseAnswer(std::string_view response);

}  // namespace ritsu::eval
