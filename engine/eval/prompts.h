// The lab's four-choice prompts, reconstructed (docs/eval.md "Prompts" says from what):
//  - direct: 【法令条文】/【質問】/【選択肢】/【回答指示】 blocks ending in "回答（1文字のみ）: ",
//    optionally preceded by one worked example (few-shot, on by default as in the lab's runs);
//  - CoT compact: asks for "Reasoning:" then a final "Answer: x" line;
//  - CoT detailed: the same with the three reasoning steps the lab's models echo
//    (条文の要点をまとめる / 各選択肢を条文に照らして妥当性を判定する / 最も適切な選択肢を一つだけ選ぶ).
// Retrieved passages are numbered [1], [2], ... as the lab's responses cite them.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "engine/eval/dataset.h"

namespace ritsu::eval {

enum class PromptMode { kDirect, kCotCompact, kCotDetailed };

struct PromptOptions {
  PromptMode mode = PromptMode::kDirect;
  bool few_shot = true;  // the one-shot example (direct mode only; CoT prompts have none)
};

struct Passage {
  std::string id;     // "金融商品取引法 第5条"
  std::string title;  // law title + article heading
  std::string text;
};

// The statute block: the passages numbered "[1] title\ntext", or `raw_context` as is when no
// passages are given (the dataset's own コンテキスト, used by build-ft --with-context).
std::string FormatContext(const std::vector<Passage>& passages);

// The user-turn text for one question. `context` empty -> no 【法令条文】 block (no-RAG).
std::string BuildPrompt(const Sample& sample, const std::string& context, const PromptOptions& opts);

// Chat rendering is the tokenizer's job (engine/tokenizer ApplyChatTemplate); the eval code
// takes it as a function from the user message to the full model input so it does not depend
// on the tokenizer library.
using ChatRenderer = std::function<std::string(const std::string& user_message)>;

}  // namespace ritsu::eval
