// The model configuration the engine supports, read from an HF config.json
// (Qwen2ForCausalLM: Qwen1.5 / Qwen2 / Qwen2.5 / DeepSeek-R1-Distill-Qwen, q/k/v bias;
// Qwen3ForCausalLM: per-head q_norm / k_norm, no bias). Anything that would change the math
// and that we do not implement (rope_scaling, sliding window, another activation) is refused
// with the field named, never ignored.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "engine/model/dtype.h"

namespace ritsu::engine {

enum class Arch { kQwen2, kQwen3 };

struct ModelConfig {
  Arch arch = Arch::kQwen3;
  int64_t hidden_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;
  int64_t head_dim = 0;  // Qwen3: explicit; Qwen2: hidden_size / num_attention_heads
  int64_t intermediate_size = 0;
  int64_t vocab_size = 0;
  int64_t max_position_embeddings = 0;
  double rope_theta = 10000.0;
  double rms_norm_eps = 1e-6;
  double initializer_range = 0.02;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // q/k/v bias: always true for Qwen2, config field for Qwen3
  DType torch_dtype = DType::kBF16;
  int64_t bos_token_id = -1;
  std::vector<int64_t> eos_token_ids;  // config.json eos_token_id (int or list)

  const char* ArchitectureName() const { return arch == Arch::kQwen2 ? "Qwen2ForCausalLM" : "Qwen3ForCausalLM"; }
  int64_t q_dim() const { return num_attention_heads * head_dim; }
  int64_t kv_dim() const { return num_key_value_heads * head_dim; }
  // Checks the numbers are consistent (positive, heads divisible by kv heads, ...).
  Status Validate(const std::string& source) const;
  // The HF config.json for this configuration (what make-model writes).
  nlohmann::json ToJson() const;
};

// Parses config.json text; `source` names the file in error messages.
Result<ModelConfig> ParseModelConfig(const std::string& json_text, const std::string& source);
// Reads DIR/config.json.
Result<ModelConfig> LoadModelConfig(const std::string& model_dir);

// The real configurations of published checkpoints, by arch and preset:
// qwen3: 0.6b 1.7b 4b 8b 14b 32b (Qwen/Qwen3-*), qwen2: 0.5b 1.5b 3b 7b 14b 32b (Qwen/Qwen2.5-*),
// plus "tiny" for each (real vocabulary, hidden 64, 2 layers: small enough for CI).
Result<ModelConfig> PresetConfig(Arch arch, const std::string& preset);
std::vector<std::string> PresetNames(Arch arch);

}  // namespace ritsu::engine
