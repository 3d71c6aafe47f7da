#include "engine/eval/ft_builder.h"

#include "engine/eval/prompts.h"

namespace ritsu::eval {
namespace {

// First statute line of the context (the article's opening sentence), cut at ~200 bytes on a
// UTF-8 boundary: enough to anchor the rationale without copying the whole excerpt.
std::string LeadSentence(const std::string& context) {
  std::string best;
  size_t start = 0;
  while (start < context.size()) {
    size_t end = context.find('\n', start);
    std::string line = context.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (!line.empty() && line[0] != '#') {
      best = line;
      break;
    }
    if (end == std::string::npos) break;
    start = end + 1;
  }
  if (best.size() > 200) {
    size_t cut = 200;
    while (cut > 0 && (static_cast<unsigned char>(best[cut]) & 0xC0) == 0x80) --cut;
    best = best.substr(0, cut) + "……";
  }
  return best;
}

}  // namespace

nlohmann::json BuildFtRecord(const Sample& s, FtMode mode, bool with_context) {
  PromptOptions popts;
  popts.few_shot = false;
  popts.mode = mode == FtMode::kDirect ? PromptMode::kDirect : PromptMode::kCotDetailed;
  const std::string input = BuildPrompt(s, with_context ? s.context : "", popts);
  const std::string letter(1, s.answer);
  std::string output;
  if (mode == FtMode::kDirect) {
    output = letter;
  } else {
    const std::string& chosen = s.choices[static_cast<size_t>(s.answer - 'a')].text;
    std::string lead = LeadSentence(s.context);
    output = "Reasoning:\n";
    output += "1. 条文の要点: " + (lead.empty() ? std::string("関連する条文の規定を確認する。") : lead) + "\n";
    output += "2. 選択肢" + letter + "「" + chosen + "」が条文の内容と問題文の条件に合致し、他の選択肢は合致しない。\n";
    output += "3. したがって最も適切な選択肢は" + letter + "である。\n";
    output += "Answer: " + letter;
  }
  nlohmann::json meta{{"mode", mode == FtMode::kDirect ? "direct" : "cot"},
                      {"with_context", with_context},
                      {"file_name", s.file_name},
                      {"answer", letter},
                      {"index", s.index}};
  return nlohmann::json{{"input", input}, {"output", output}, {"meta", meta}};
}

}  // namespace ritsu::eval
