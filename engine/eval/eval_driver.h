// The `eval` job: lawqa_jp four-choice evaluation with optional BM25 RAG, CoT, ensemble vote,
// written as the lab's JSON (config / summary / results). Flags follow the lab's
// scripts/evaluate_multiple_choice.py; docs/eval.md lists them all.
//
// Entry points take argv with argv[0] = the subcommand name ("eval"), flags from argv[1].
#pragma once

#include <functional>
#include <iosfwd>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "engine/eval/bm25.h"
#include "engine/eval/prompts.h"
#include "engine/eval/text_generator.h"

namespace ritsu::eval {

enum class PromptFormat { kPlain, kChat };

struct EvalOptions {
  std::string data;            // --data
  std::string output;          // --output
  int samples = 0;             // --samples: first N questions; 0 = all
  int top_k = 3;               // --top-k
  bool rag = true;             // --no-rag turns it off
  bool cot = false;            // --use-cot
  PromptMode cot_style = PromptMode::kCotDetailed;  // --cot-style compact|detailed
  int ensemble = 1;            // --ensemble N
  std::string hf_model_name;   // --hf-model-name
  std::string hf_lora_path;    // --hf-lora-path
  bool load_in_4bit = false;   // --hf-load-in-4bit
  bool few_shot = true;        // --few-shot / --no-few-shot
  int max_new_tokens = 0;      // --max-new-tokens; 0 = 256 direct, 1024 CoT
  uint64_t seed = 42;          // --seed
  std::string llm_backend = "hf";  // --llm-backend (only hf)
  PromptFormat prompt_format = PromptFormat::kPlain;  // --prompt-format plain|chat
  bool use_reranker = false;   // --use-reranker
  int rerank_top_n = 3;        // --rerank-top-n
  bool overwrite = false;      // --overwrite
  int batch_size = 8;          // --batch-size: questions per GenerateBatch call
  std::string index_path;      // --index: a saved BM25 index instead of building one
  std::string corpus_data;     // --corpus-data: dataset whose コンテキスト form the corpus (default --data)
  std::string law_xml_dir;     // --law-xml-dir: e-Gov XML files added to the corpus
  std::string device = "auto";  // --device cpu|cuda|cuda:N|auto (auto: CUDA when available)

  int EffectiveMaxNewTokens() const { return max_new_tokens > 0 ? max_new_tokens : (cot ? 1024 : 256); }
};

Result<EvalOptions> ParseEvalOptions(const std::vector<std::string>& args);

// What the engine plugs in. make_chat_renderer is needed only for --prompt-format chat,
// make_reranker only for --use-reranker (it may reuse the generator's model).
struct EvalBackends {
  std::function<Result<std::unique_ptr<TextGenerator>>(const EvalOptions&)> make_generator;
  std::function<Result<ChatRenderer>(const EvalOptions&)> make_chat_renderer;
  std::function<Result<RerankScorer>(const EvalOptions&, TextGenerator*)> make_reranker;
};

// ritsu-engine's main registers the engine's backends before dispatching to EvalMain.
void RegisterEvalBackends(EvalBackends backends);

// Runs the evaluation and returns the output document without writing anything (the trainer's
// in-training evaluation uses it: same prompts, generation and parser as `ritsu-engine eval`).
Result<nlohmann::json> EvaluateToDocument(const EvalOptions& options, TextGenerator& generator,
                                          const ChatRenderer& chat, const RerankScorer& reranker,
                                          std::ostream& log);

// EvaluateToDocument, then writes the document to options.output and $RITSU_METRICS_FILE.
Result<nlohmann::json> RunEvaluation(const EvalOptions& options, TextGenerator& generator,
                                     const ChatRenderer& chat, const RerankScorer& reranker,
                                     std::ostream& log);

// Parses flags, builds the backends, runs, writes the output and $RITSU_METRICS_FILE.
// Returns 0 on success, 2 on bad flags/input, 1 on failure during the run.
int EvalMainWith(const std::vector<std::string>& args, const EvalBackends& backends,
                 std::ostream& out, std::ostream& err);
int EvalMain(int argc, char** argv);

}  // namespace ritsu::eval
