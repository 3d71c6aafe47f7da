// Writes a complete HF model directory with random weights of a Qwen architecture: the
// checkpoints tests, benchmarks and the demo use, since real ones cannot be downloaded here.
// Init as HF's _init_weights: every Linear and the embedding ~ N(0, initializer_range),
// RMSNorm weights 1, biases 0. `test_init` instead draws norm weights ~ 1 + N(0, 0.1) and
// biases ~ N(0, initializer_range) so tests and the parity harness exercise them (with
// HF's init a wrong norm weight or a dropped bias would not change any number).
// Each tensor has its own generator seeded from (seed, tensor name): the values of a tensor do
// not depend on the order of writing or on the other tensors.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "engine/model/config.h"
#include "engine/model/safetensors.h"

namespace ritsu::engine {

struct RandomModelOptions {
  uint64_t seed = 0;
  DType dtype = DType::kBF16;
  bool test_init = false;
  uint64_t max_shard_bytes = 5ull << 30;  // HF's default shard size
  // Directory holding tokenizer.json / tokenizer_config.json / LICENSE* to copy; empty = none.
  std::string tokenizer_dir;
  // false: config.json, generation_config.json and the tokenizer only. For shapes too large to
  // write (a 32B bf16 checkpoint is 65 GB), `ritsu-engine train --random-base-seed` draws the
  // same values in memory (RandomTensorValues).
  bool write_weights = true;
};

// The (name, shape) list of every tensor of a checkpoint for `config`, in HF's order.
std::vector<std::pair<std::string, std::vector<int64_t>>> CheckpointTensorShapes(const ModelConfig& config);

// The random values of tensor `name` (deterministic in seed and name), rounded to
// options.dtype when that is bf16 (as the checkpoint stores them).
std::vector<float> RandomTensorValues(const ModelConfig& config, const std::string& name, int64_t numel,
                                      const RandomModelOptions& options);

// Writes config.json, generation_config.json, the safetensors checkpoint (sharded above
// max_shard_bytes) and the tokenizer files into out_dir (created).
Status WriteRandomModel(const ModelConfig& config, const RandomModelOptions& options, const std::string& out_dir);

}  // namespace ritsu::engine
