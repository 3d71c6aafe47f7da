// GPU memory a train / eval job needs, estimated from the model's config.json and the job's
// options: `ritsu submit` requests a slot that fits when the user gives no --gpu-mem, and
// `ritsu-engine train` says how much a run needs when --max-gpu-memory (or the GPU) is too small.
// The formulas are in docs/jobs.md "Resource estimate" (train: the trainer's own memory model,
// fitted to measured peaks; eval: weights + KV cache + logits + overhead, x1.1). A placement
// hint, not a promise: the engine still reports a real out-of-memory.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "common/task.h"

namespace ritsu {

struct ModelShape {
  int64_t hidden = 0, layers = 0, intermediate = 0, vocab = 0, heads = 0, kv_heads = 0, head_dim = 0;
  bool tied_embeddings = false;
  int64_t LinearParams() const;     // the transformer blocks' projection weights (quantizable)
  int64_t EmbeddingParams() const;  // embed_tokens (+ lm_head unless tied): kept in bf16
};

// Reads DIR/config.json (HF layout); the error names the file and the missing field.
Result<ModelShape> ReadModelShape(const std::string& model_dir);

struct EstimateOptions {
  TaskKind kind = TaskKind::kEval;
  bool nf4 = false;             // train --use-4bit / eval --hf-load-in-4bit
  int64_t batch = 1;            // train --batch-size / eval --batch-size
  int64_t seq = 1024;           // train --max-seq-length / eval prompt + --max-new-tokens
  int64_t lora_r = 8;
  int64_t lora_targets = 2;     // projections per layer carrying LoRA (q_proj,v_proj = 2)
};

struct Estimate {
  uint64_t bytes = 0;
  std::string breakdown;  // "weights 4.4G + lora 0.1G + ..." for `ritsu submit` to print
};

Estimate EstimateGpuMemory(const ModelShape& m, const EstimateOptions& o);

}  // namespace ritsu
