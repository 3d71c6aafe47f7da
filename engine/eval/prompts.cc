#include "engine/eval/prompts.h"

namespace ritsu::eval {
namespace {

// The one-shot example. The lab's models echo "例: a" and a 14B CoT response says the example
// was about the submission period of the securities report under 金融商品取引法第24条第1項,
// answer a. The wording below is ritsu's, written from the statute; it is not one of the 140
// dataset questions (a test checks that).
// The example follows the layout of the real question: its statute block is shown only when
// the real question has one (with RAG), so a no-RAG prompt never mentions 【法令条文】.
constexpr const char* kExampleHead = "【例】\n";
constexpr const char* kExampleContext =
    "【法令条文】\n"
    "[1] 金融商品取引法 第24条\n"
    "第一項 有価証券の発行者である会社は、……事業年度ごとに、……有価証券報告書を、"
    "当該事業年度経過後三月以内に、内閣総理大臣に提出しなければならない。\n\n";
constexpr const char* kExampleQuestion =
    "【質問】\n"
    "金融商品取引法第24条第1項に規定する有価証券報告書の提出期限として正しいものを教えてください。\n\n"
    "【選択肢】\n"
    "a 事業年度経過後三月以内\n"
    "b 事業年度経過後六月以内\n"
    "c 事業年度経過後一年以内\n"
    "d 事業年度の開始前\n\n"
    "回答（1文字のみ）: a\n\n"
    "【本題】\n";

constexpr const char* kDirectInstructions =
    "【回答指示】\n"
    "- 上記の法令条文の内容のみを根拠に選んでください。\n"
    "- 回答は a, b, c, d のいずれか1文字のみ。\n"
    "- 理由や説明は書かず、1文字だけ出力してください。\n\n"
    "回答（1文字のみ）: ";

constexpr const char* kCotCompactInstructions =
    "【回答指示】\n"
    "- 上記の法令条文の内容のみを根拠に考えてください。\n"
    "- 簡潔な根拠を書いた後、最後の行に選んだ選択肢を a, b, c, d のいずれか1文字で書いてください。\n"
    "- 出力形式:\n"
    "Reasoning: （根拠）\n"
    "Answer: （a, b, c, d のいずれか1文字）\n";

constexpr const char* kCotDetailedInstructions =
    "【回答指示】\n"
    "次の手順で考え、その過程を書いてください。\n"
    "1. 条文の要点をまとめる\n"
    "2. 各選択肢を条文に照らして妥当性を判定する\n"
    "3. 最も適切な選択肢を一つだけ選ぶ\n"
    "- 上記の法令条文の内容のみを根拠にしてください。\n"
    "- 最後の行には選んだ選択肢を a, b, c, d のいずれか1文字で書いてください。\n"
    "- 出力形式:\n"
    "Reasoning:\n"
    "1. ...\n"
    "2. ...\n"
    "3. ...\n"
    "Answer: （a, b, c, d のいずれか1文字）\n";

}  // namespace

std::string FormatContext(const std::vector<Passage>& passages) {
  std::string out;
  for (size_t i = 0; i < passages.size(); ++i) {
    if (i) out += "\n\n";
    out += "[" + std::to_string(i + 1) + "] " + passages[i].title + "\n" + passages[i].text;
  }
  return out;
}

std::string BuildPrompt(const Sample& sample, const std::string& context, const PromptOptions& opts) {
  std::string p;
  if (opts.mode == PromptMode::kDirect && opts.few_shot) {
    p += kExampleHead;
    if (!context.empty()) p += kExampleContext;
    p += kExampleQuestion;
  }
  if (!context.empty()) p += "【法令条文】\n" + context + "\n\n";
  p += "【質問】\n" + sample.question + "\n\n";
  p += "【選択肢】\n" + sample.choices_text + "\n\n";
  switch (opts.mode) {
    case PromptMode::kDirect: p += kDirectInstructions; break;
    case PromptMode::kCotCompact: p += kCotCompactInstructions; break;
    case PromptMode::kCotDetailed: p += kCotDetailedInstructions; break;
  }
  return p;
}

}  // namespace ritsu::eval
