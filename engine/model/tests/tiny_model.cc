#include "engine/model/tests/tiny_model.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace ritsu::engine::testing {

ModelConfig TinyConfig(Arch arch, bool tie_word_embeddings) {
  ModelConfig c = PresetConfig(arch, "tiny").value();
  c.hidden_size = 64;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = arch == Arch::kQwen3 ? 32 : 16;  // Qwen3: q_dim 128 != hidden 64
  c.intermediate_size = 128;
  c.vocab_size = 320;
  c.max_position_embeddings = 64;
  c.rope_theta = 10000.0;  // strong rotation at small positions, so a RoPE slip shows
  c.tie_word_embeddings = tie_word_embeddings;
  c.eos_token_ids = {7};
  return c;
}

void WriteTinyModel(const ModelConfig& c, uint64_t seed, const std::string& dir) {
  RandomModelOptions o;
  o.seed = seed;
  o.dtype = DType::kBF16;
  o.test_init = true;
  // Random init std 0.02 gives near-uniform logits; 0.2 makes the model opinionated enough
  // that greedy tokens are not decided by rounding noise.
  ModelConfig scaled = c;
  scaled.initializer_range = 0.2;
  Status st = WriteRandomModel(scaled, o, dir);
  ASSERT_TRUE(st.ok()) << st.ToString();
}

std::map<std::string, std::vector<float>> ReadAllFloat(const std::string& dir) {
  auto ck = Checkpoint::OpenDir(dir);
  EXPECT_TRUE(ck.ok()) << ck.status().ToString();
  std::map<std::string, std::vector<float>> out;
  for (const auto& [name, v] : (*ck)->tensors()) out[name] = (*ck)->ReadFloat(name).value();
  return out;
}

WeightMap ToDouble(const std::map<std::string, std::vector<float>>& w) {
  WeightMap out;
  for (const auto& [name, v] : w) out[name] = std::vector<double>(v.begin(), v.end());
  return out;
}

void WriteFloatModel(const ModelConfig& c, const std::map<std::string, std::vector<float>>& weights,
                     const std::string& dir) {
  std::filesystem::create_directories(dir);
  std::ofstream(std::filesystem::path(dir) / "config.json") << c.ToJson().dump(2);
  std::vector<TensorData> tensors;
  for (const auto& [name, shape] : CheckpointTensorShapes(c)) {
    tensors.push_back(TensorData::FromFloat(name, DType::kF32, shape, weights.at(name)));
  }
  Status st = WriteCheckpointDir(dir, tensors, 1ull << 40);
  ASSERT_TRUE(st.ok()) << st.ToString();
}

}  // namespace ritsu::engine::testing
