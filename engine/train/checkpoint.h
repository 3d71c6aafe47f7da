// Training checkpoints (format in docs/training.md): a directory OUTPUT/checkpoint-STEP with
//   adapter_config.json + adapter_model.safetensors  the LoRA masters in fp32 (a PEFT adapter)
//   optimizer.safetensors                            AdamW exp_avg / exp_avg_sq per A and B
//   ritsu_trainer_state.json                         step, data position, best model, what resume needs
//   trainer_state.json                               HF Trainer's TrainerState (log history, best metric)
// The directory is written as OUTPUT/checkpoint-STEP.tmp and renamed into place, so a failed
// write (full disk) leaves every earlier checkpoint intact. Dropout masks and the data order
// are pure functions of (seed, step) and (seed, epoch), so no generator state is stored: the
// seed and the data position are the RNG state.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "engine/train/best_model.h"
#include "engine/train/lora_net.h"

namespace ritsu::train {

inline constexpr int kCheckpointFormatVersion = 1;

struct TrainProgress {
  int64_t global_step = 0;
  int64_t total_steps = 0;
  int64_t epoch = 0;       // epoch of the next micro-batch
  int64_t next_batch = 0;  // its index in that epoch's shuffled order
  uint64_t seed = 0;
  double loss_sum_all = 0;  // sum of the per-step losses so far (train_loss = mean)
  double window_loss = 0;   // since the last log line
  int64_t window_steps = 0;
  int64_t tokens_seen = 0;
  nlohmann::json log_history = nlohmann::json::array();
  BestModelState best;
  int64_t last_eval_epoch = 0;  // --eval-strategy epoch: the epoch count at the last evaluation
  nlohmann::json last_eval;     // metrics of the last evaluation (null before the first)
  bool eval_pending = false;    // preempted before global_step's evaluation: run it on resume
  // Run settings HF's TrainerState carries (logging_steps, eval_steps, save_steps,
  // train_batch_size, num_train_epochs, early stopping arguments), filled by the trainer.
  nlohmann::json hf_args = nlohmann::json::object();
  double epoch_float = 0;  // epochs done, fractional (HF's "epoch")

  nlohmann::json ToJson() const;
  static Result<TrainProgress> FromJson(const nlohmann::json& j, const std::string& source);
  // trainer_state.json as HF Trainer writes it: only TrainerState's fields, so
  // TrainerState.load_from_json (which passes them as keyword arguments) reads it.
  nlohmann::json HfTrainerState() const;
};

// Writes checkpoint `dir` (final path) atomically as described above.
Status SaveCheckpoint(const std::string& dir, const LoraNet& net, const engine::LoraConfig& lora,
                      const TrainProgress& progress);
// Restores the LoRA masters, AdamW moments and progress from `dir` into `net`, checking the
// adapter matches the net's targets and shapes.
Result<TrainProgress> LoadCheckpoint(const std::string& dir, LoraNet& net);
// The newest complete OUTPUT/checkpoint-N directory (adapter, optimizer state and trainer
// state present), or "" when there is none.
std::string LatestCheckpoint(const std::string& output_dir);

}  // namespace ritsu::train
