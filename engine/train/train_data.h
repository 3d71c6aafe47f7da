// Training data for `ritsu-engine train`: the JSONL the seeds' build_finetune_dataset.py wrote
// ({"input": str, "output": str, "meta": {"mode": "direct"|"cot", ...}} per line), the
// --train-mode filter, the two prompt formats, truncation and label masking.
//
// Token layout of one sample: prompt ids then output ids then the end token, tokenized as two
// pieces (so the prompt/output boundary, and with it --loss-on-output-only, is exact):
//   plain: prompt "<USER>\n{input}\n<ASSISTANT>\n", output "{output}", end = tokenizer eos
//   chat:  prompt = the Qwen chat template of one user turn with the generation prompt
//          (Qwen3: thinking disabled, i.e. an empty think block), output "{output}",
//          end = <|im_end|>
// Truncation keeps the first --max-seq-length tokens (HF's right truncation); a sample whose
// output lost every token is dropped and counted.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "common/status.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/train/lora_net.h"
#include "engine/train/train_jsonl.h"  // RawSample, ReadTrainJsonl

namespace ritsu::train {

// --train-mode: "direct" / "cot" keep the lines whose meta.mode matches (a line without
// meta.mode counts as direct), "auto" keeps everything.
Result<std::vector<RawSample>> FilterByMode(std::vector<RawSample> samples, const std::string& mode);

enum class PromptFormat { kPlain, kChat };

struct TokenizedSample {
  std::vector<int32_t> ids;
  int64_t prompt_len = 0;  // ids[0, prompt_len) are the prompt
  int64_t line = 0;
};

struct TokenizeReport {
  int64_t truncated = 0;        // samples cut to max_seq_length
  int64_t dropped_no_output = 0;  // samples with no output token left after the cut (dropped)
};

// The prompt text of a sample in `format` (also what an evaluation would feed the model).
std::string PromptText(const tokenizer::Tokenizer& tok, PromptFormat format, const std::string& input);

std::vector<TokenizedSample> TokenizeSamples(const std::vector<RawSample>& samples, const tokenizer::Tokenizer& tok,
                                             PromptFormat format, int64_t max_seq_length, TokenizeReport* report);

// Packs samples into one batch; labels are the next token, -100 on the prompt when
// output_only (and always on each sequence's last position).
PackedBatch PackBatch(const std::vector<const TokenizedSample*>& samples, bool output_only);

// The order of epoch `epoch` (0-based): a Fisher-Yates shuffle of 0..n-1 driven by
// mt19937_64(seed + epoch), written out here so the order never depends on the standard
// library's std::shuffle.
std::vector<int64_t> EpochOrder(int64_t n, uint64_t seed, int64_t epoch);

}  // namespace ritsu::train
