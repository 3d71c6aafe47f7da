// The Qwen2 / Qwen3 decoder, written once against Backend. Load maps the checkpoint, builds
// every weight on the backend (dense, or NF4 for the seven decoder linears with
// --load-in-4bit; embeddings, norms, biases and lm_head stay dense as bitsandbytes leaves
// them) and optionally attaches a PEFT LoRA adapter applied unmerged: y = W x + s * B (A x).
//
// Forward runs one step of a batch of sequences (see StepLayout in backend.h): embeddings,
// per layer RMSNorm -> q/k/v (+bias for Qwen2) -> q_norm/k_norm per head (Qwen3) -> RoPE ->
// KV-cache write + causal GQA attention -> o_proj -> residual -> RMSNorm -> SwiGLU MLP ->
// residual, final RMSNorm, lm_head on the requested rows only.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "engine/model/backend.h"
#include "engine/model/config.h"
#include "engine/model/lora_adapter.h"
#include "engine/model/safetensors.h"

namespace ritsu::engine {

struct ModelLoadOptions {
  bool load_in_4bit = false;  // NF4 decoder linears (bitsandbytes layout)
  std::string lora_dir;       // PEFT adapter directory, empty = none
};

class Model {
 public:
  // Reads DIR/config.json and the safetensors checkpoint; every expected tensor must be
  // present with the shape the config implies (errors name the tensor and file).
  static Result<std::unique_ptr<Model>> Load(const std::string& dir, Backend& backend,
                                             const ModelLoadOptions& options = {});
  // Builds from an already loaded config and checkpoint (tests) and an optional adapter.
  static Result<std::unique_ptr<Model>> FromCheckpoint(const ModelConfig& config, const Checkpoint& ck,
                                                       Backend& backend, const ModelLoadOptions& options,
                                                       const LoraAdapter* adapter);
  ~Model();

  const ModelConfig& config() const { return config_; }
  Backend& backend() { return *backend_; }
  bool has_lora() const { return has_lora_; }

  KvCache NewKvCache(int64_t n_slots, int64_t max_seq);

  // One step: `tokens` packed in segment order (step.n_tokens of them, step finalized).
  // Writes their K/V into `cache` and returns logits [logit_rows.size(), vocab] of the listed
  // packed rows (activation dtype). Positions must fit the cache (checked: an error, no write).
  Result<Tensor> Forward(const std::vector<int32_t>& tokens, StepLayout& step, KvCache& cache,
                         const std::vector<int64_t>& logit_rows);

 private:
  struct Layer;
  Model() = default;
  void Linear(const Tensor& x, int64_t layer, LinearModule m, const Tensor& y);

  ModelConfig config_;
  Backend* backend_ = nullptr;
  bool has_lora_ = false;
  float lora_scale_ = 0.0f;
  std::unique_ptr<Weight> embed_;
  std::unique_ptr<Weight> final_norm_;
  std::unique_ptr<Weight> lm_head_;  // null when tied to embed_
  std::vector<std::unique_ptr<Layer>> layers_;
};

}  // namespace ritsu::engine
