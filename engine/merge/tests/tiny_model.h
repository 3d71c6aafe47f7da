// Test fixtures: tiny Qwen2/Qwen3 model directories with random weights, a small byte-level
// BPE tokenizer, and PEFT adapters with random A and B, written with the engine's own
// safetensors/config/adapter writers into a per-test temporary directory.
#pragma once

#include <cstdint>
#include <string>

#include "engine/model/config.h"
#include "engine/model/dtype.h"
#include "engine/model/lora_adapter.h"

namespace ritsu::merge::testing {

// A fresh empty directory under $TMPDIR (or /tmp), removed by the fixture's destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Qwen3, hidden 256 (so every weight row is a whole number of 256-blocks: the k-quant path),
// 4 heads of 64, 2 kv heads, ffn 512, 4 layers, vocab 300, tied embeddings.
engine::ModelConfig TinyQwen3Config();
// Qwen2 with q/k/v bias, hidden 64 (rows not a multiple of 256: llama.cpp's fallback types),
// ffn 128, 2 layers, vocab 300, untied lm_head.
engine::ModelConfig TinyQwen2Config();

// Writes config.json, safetensors (sharded when max_shard_bytes is small) and, with
// `tokenizer`, tokenizer.json + tokenizer_config.json; weights ~ N(0, 0.05), seed-determined.
void WriteTinyModel(const std::string& dir, const engine::ModelConfig& config, engine::DType dtype, uint64_t seed,
                    bool tokenizer = true, uint64_t max_shard_bytes = uint64_t{1} << 40);

// A PEFT adapter on q_proj, v_proj and down_proj with rank 4, alpha 8 and non-zero B.
engine::LoraAdapter MakeAdapter(const engine::ModelConfig& config, uint64_t seed);

// Tokens of the test tokenizer: ids 0..289 ordinary, 290 <|endoftext|>, 291 <|im_start|>,
// 292 <|im_end|> (special), 293 <think> (added, not special); 294..299 unused padding ids.
inline constexpr int kTestTokenizerTokens = 294;

}  // namespace ritsu::merge::testing
