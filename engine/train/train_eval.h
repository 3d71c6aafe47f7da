// Evaluation during training (--eval-file): on the weights in memory, between optimizer steps.
//  - eval_loss: the mean token loss of the eval samples through the trainer's own forward
//    (no dropout), with the training's prompt format, truncation and label mask. A lawqa_jp
//    split is turned into samples as `ritsu-engine data build-ft` does (direct, or CoT with
//    --train-mode cot; the sample's own context unless --eval-no-rag).
//  - eval_accuracy (lawqa_jp split only): the eval driver of `ritsu-engine eval` itself
//    (EvaluateToDocument: same retrieval, prompts, batched greedy generation and answer
//    parser) on an inference model built from the base and the trainer's current fp32 LoRA
//    masters - the numbers its checkpoint stores - so the accuracy at step N equals
//    `ritsu-engine eval --hf-lora-path OUTPUT/checkpoint-N` with the same flags, question by
//    question. The per-question document is written to OUTPUT/eval/step-N.json.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "engine/eval/eval_driver.h"
#include "engine/model/lora_adapter.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/train/data_parallel.h"
#include "engine/train/train_data.h"
#include "engine/train/train_options.h"

namespace ritsu::train {

class InTrainingEval {
 public:
  // Reads and tokenizes --eval-file (errors name it). `device` is where the accuracy's
  // inference model runs ("cpu" or "cuda:K", the trainer's first device).
  static Result<std::unique_ptr<InTrainingEval>> Create(const TrainOptions& o, const tokenizer::Tokenizer& tok,
                                                        int64_t vocab_size, const std::string& device);

  bool lawqa() const { return lawqa_; }
  int64_t samples() const { return static_cast<int64_t>(loss_samples_.size()); }
  // The `ritsu-engine eval` flags the accuracy is measured with (for the log and the docs).
  const std::vector<std::string>& eval_args() const { return eval_args_; }

  // Evaluates the primary replica's weights at `step`: {"eval_loss", "eval_accuracy" (lawqa_jp),
  // "eval_samples", "eval_runtime"}.
  Result<nlohmann::json> Run(int64_t step, DataParallel& dp, const engine::LoraConfig& lora, std::ostream& log);

 private:
  InTrainingEval() = default;
  TrainOptions o_;
  bool lawqa_ = false;
  std::vector<std::string> eval_args_;
  eval::EvalOptions eval_;
  std::vector<TokenizedSample> loss_samples_;
};

}  // namespace ritsu::train
