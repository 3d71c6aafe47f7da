// The CPU engine against HF transformers' own numbers: engine/model/tests/golden/hf_logits.json
// holds HF fp32 logits of tiny random checkpoints that `ritsu-engine make-model` writes
// deterministically from the arguments stored beside them (tests/parity/make_golden.py wrote
// it on a machine with transformers). Here the same checkpoints are rebuilt and run.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/model/generator.h"
#include "engine/model/model.h"
#include "engine/model/random_model.h"
#include "engine/model/tests/test_dir.h"

namespace ritsu::engine {
namespace {

const std::string kGolden = std::string(RITSU_SOURCE_DIR) + "/engine/model/tests/golden/hf_logits.json";

// Tolerance: fp32 engine vs fp32 HF (both from the same bf16 weights), different summation
// orders over <= 128-term dot products through 2 layers: ~1e-6 of the logit scale, plus the
// golden's 9 significant digits. 1e-4 leaves 100x margin; a convention slip (RoPE pairing,
// norm placement, bias) gives O(1e-1).
constexpr double kTol = 1e-4;

TEST(HfGolden, CpuEngineMatchesTransformersFp32Logits) {
  ASSERT_TRUE(std::filesystem::exists(kGolden))
      << kGolden << " is missing: tests/parity/run_all.sh writes it on a GPU machine (torch + transformers)";
  std::ifstream in(kGolden);
  const auto doc = nlohmann::json::parse(in);
  ASSERT_EQ(doc["format"], "ritsu-hf-golden");
  ASSERT_EQ(doc["version"], 1);
  const auto prompt = doc["prompt"].get<std::vector<int32_t>>();
  ASSERT_FALSE(doc["models"].empty());
  for (const auto& m : doc["models"]) {
    const std::string name = m["name"];
    ModelConfig c = PresetConfig(m["arch"] == "qwen3" ? Arch::kQwen3 : Arch::kQwen2, "tiny").value();
    c.hidden_size = m["hidden"];
    c.num_hidden_layers = m["layers"];
    c.num_attention_heads = m["heads"];
    c.num_key_value_heads = m["kv_heads"];
    c.head_dim = m["head_dim"];
    c.intermediate_size = m["intermediate"];
    c.vocab_size = m["vocab"];
    c.rope_theta = m["rope_theta"];
    c.initializer_range = m["initializer_range"];
    c.tie_word_embeddings = m["tie"];
    RandomModelOptions o;
    o.seed = m["seed"];
    o.dtype = DType::kBF16;
    o.test_init = true;
    testing::TempDir dir;
    ASSERT_TRUE(WriteRandomModel(c, o, dir.path()).ok()) << name;
    auto backend = MakeCpuBackend();
    auto model = Model::Load(dir.path(), *backend);
    ASSERT_TRUE(model.ok()) << name << ": " << model.status().ToString();
    auto logits = ComputeLogits(**model, prompt, /*all_positions=*/true);
    ASSERT_TRUE(logits.ok()) << name;
    const auto& want = m["logits"];
    ASSERT_EQ(want.size(), prompt.size()) << name;
    double num = 0, den = 0;
    for (size_t t = 0; t < prompt.size(); ++t) {
      ASSERT_EQ(want[t].size(), static_cast<size_t>(c.vocab_size)) << name;
      for (int64_t v = 0; v < c.vocab_size; ++v) {
        const double w = want[t][static_cast<size_t>(v)].get<double>();
        num = std::max(num, std::abs((*logits)[t * static_cast<size_t>(c.vocab_size) + static_cast<size_t>(v)] - w));
        den = std::max(den, std::abs(w));
      }
    }
    EXPECT_LT(num / den, kTol) << name << ": max |engine - HF| / max |HF| = " << num / den;
  }
}

}  // namespace
}  // namespace ritsu::engine
