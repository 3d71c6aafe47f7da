// The flags of `ritsu-engine train` (the seed script train_qwen_law_ft.py's names, plus
// ritsu's own), parsed and validated: every bad value is an error naming the flag.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/status.h"
#include "engine/train/train_data.h"

namespace ritsu::train {

struct TrainOptions {
  std::string model_name;  // HF model directory
  std::string train_file;
  std::string output_dir;
  int64_t num_epochs = 3;
  int64_t batch_size = 1;
  double learning_rate = 2e-4;
  int64_t max_seq_length = 1024;
  int64_t gradient_accumulation_steps = 1;
  double warmup_ratio = 0.03;
  double weight_decay = 0.0;
  int64_t lora_r = 8;
  double lora_alpha = 16;
  double lora_dropout = 0.05;
  std::vector<std::string> target_modules = {"q_proj", "v_proj"};
  bool use_4bit = false;
  std::string bnb_4bit_compute_dtype = "bfloat16";
  std::string bnb_4bit_quant_type = "nf4";
  int64_t max_steps_override = 0;  // > 0 replaces the epoch-derived step count
  bool loss_on_output_only = false;
  std::string train_mode = "auto";
  int64_t logging_steps = 10;
  int64_t save_steps = 0;  // 0 = no intermediate checkpoints
  uint64_t seed = 42;
  std::string resume;  // checkpoint directory, or "auto" = the newest OUTPUT_DIR/checkpoint-N
  std::string max_gpu_memory;
  uint64_t max_gpu_memory_bytes = 0;  // parsed --max-gpu-memory (0 = no cap)
  PromptFormat prompt_format = PromptFormat::kPlain;
  std::string lr_scheduler = "linear";
  double max_grad_norm = 1.0;
  bool use_rslora = false;
  std::string device = "cpu";  // "cpu", "cuda" or "cuda:N"
  int device_ordinal = 0;
  int64_t gpus = 1;  // --gpus N: data-parallel replicas on cuda:K..K+N-1; 0 = --gpus all
  BadLinePolicy on_bad_line = BadLinePolicy::kFail;
  // For the peft parity harness (tests/parity/train_parity.py): also write the LoRA init as
  // OUTPUT/initial_adapter/ and the file lines of every step's samples as OUTPUT/data_order.json.
  bool parity_dump = false;
  // Benchmarks: >= 0 draws the frozen base as `make-model --seed S --dtype bf16` would write it,
  // in memory (--model-name then only needs config.json and the tokenizer: make-model --config-only).
  int64_t random_base_seed = -1;
  // Evaluation during training (HF Trainer's names; docs/training.md "Evaluation").
  std::string eval_file;              // lawqa_jp JSON split (.json) or fine-tuning JSONL (.jsonl)
  std::string eval_strategy = "no";   // no | steps | epoch ("steps"/"epoch" implied by --eval-file)
  int64_t eval_steps = 0;             // steps strategy: every N optimizer steps (0 = --logging-steps)
  int64_t eval_samples = 0;           // first K samples of --eval-file; 0 = all
  std::string eval_prompt_format = "plain";  // lawqa_jp accuracy: as `ritsu-engine eval --prompt-format`
  int64_t eval_max_new_tokens = 0;    // as `ritsu-engine eval --max-new-tokens` (0 = its default)
  int64_t eval_batch_size = 8;        // questions per generation batch (`ritsu-engine eval --batch-size`)
  bool eval_rag = true;               // --eval-no-rag: as `ritsu-engine eval --no-rag`
  // Checkpoint selection and early stopping.
  std::string metric_for_best_model;  // eval_accuracy | eval_loss ("" = eval_accuracy for lawqa_jp, else eval_loss)
  bool greater_is_better = false;     // inferred from the metric unless --greater-is-better is given
  bool load_best_model_at_end = false;
  int64_t save_total_limit = 0;       // 0 = keep every checkpoint
  int64_t early_stopping_patience = 0;  // 0 = off
  double early_stopping_threshold = 0.0;
  bool no_resume = false;             // --no-resume: start fresh even if checkpoints exist
  // Tests only (no flag): called after every optimizer step with the step number (1-based),
  // before the step's evaluation and checkpoint; the preemption test raises SIGTERM from it.
  std::function<void(int64_t)> after_step;
  // Tests only (no flag): N data-parallel replicas on the host with --device cpu, the CI stand-in
  // for --gpus N (the same step logic with a host all-reduce instead of NCCL; data_parallel.h).
  int64_t cpu_replicas = 1;
};

// argv[0] is the subcommand name. "--help" yields a NotFound status whose message is the usage.
Result<TrainOptions> ParseTrainArgs(int argc, char** argv);
std::string TrainUsage();

// "10G", "10GiB", "512M", "1.5g", "123456" (bytes) -> bytes (G = 2^30).
Result<uint64_t> ParseByteSize(const std::string& flag, const std::string& value);

// "all-linear" -> the seven names; unknown names -> error listing the valid ones.
Result<std::vector<std::string>> ParseTargetModules(const std::string& value);

// Whether --eval-file is a lawqa_jp split (anything but *.jsonl) rather than fine-tuning JSONL.
bool IsLawqaEvalFile(const std::string& path);

}  // namespace ritsu::train
