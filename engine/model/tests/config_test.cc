#include "engine/model/config.h"
#include "engine/model/lora_adapter.h"

#include <fstream>

#include "engine/model/safetensors.h"
#include "engine/model/tests/test_dir.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace ritsu::engine {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;

// The published config.json of Qwen/Qwen3-0.6B (fields the engine reads).
const char* kQwen3_06B = R"({
  "architectures": ["Qwen3ForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
  "bos_token_id": 151643, "eos_token_id": 151645, "head_dim": 128, "hidden_act": "silu",
  "hidden_size": 1024, "initializer_range": 0.02, "intermediate_size": 3072,
  "max_position_embeddings": 40960, "max_window_layers": 28, "model_type": "qwen3",
  "num_attention_heads": 16, "num_hidden_layers": 28, "num_key_value_heads": 8,
  "rms_norm_eps": 1e-06, "rope_scaling": null, "rope_theta": 1000000, "sliding_window": null,
  "tie_word_embeddings": true, "torch_dtype": "bfloat16", "use_cache": true,
  "use_sliding_window": false, "vocab_size": 151936})";

TEST(ModelConfigParse, ParsesQwen3AndMatchesThePreset) {
  auto c = ParseModelConfig(kQwen3_06B, "config.json");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->arch, Arch::kQwen3);
  EXPECT_EQ(c->head_dim, 128);  // explicit: not hidden / heads (= 64)
  EXPECT_EQ(c->q_dim(), 2048);
  EXPECT_EQ(c->kv_dim(), 1024);
  EXPECT_TRUE(c->tie_word_embeddings);
  EXPECT_FALSE(c->attention_bias);
  EXPECT_DOUBLE_EQ(c->rope_theta, 1e6);
  EXPECT_EQ(c->eos_token_ids, std::vector<int64_t>{151645});
  auto p = PresetConfig(Arch::kQwen3, "0.6b");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->hidden_size, c->hidden_size);
  EXPECT_EQ(p->intermediate_size, c->intermediate_size);
  EXPECT_EQ(p->num_key_value_heads, c->num_key_value_heads);
  EXPECT_EQ(p->head_dim, c->head_dim);
}

TEST(ModelConfigParse, Qwen2HasBiasAndImpliedHeadDim) {
  json j = json::parse(kQwen3_06B);
  j["architectures"] = {"Qwen2ForCausalLM"};
  j.erase("head_dim");
  j["hidden_size"] = 1536;
  j["num_attention_heads"] = 12;
  j["num_key_value_heads"] = 2;
  j["eos_token_id"] = {151645, 151643};
  auto c = ParseModelConfig(j.dump(), "config.json");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->arch, Arch::kQwen2);
  EXPECT_TRUE(c->attention_bias);
  EXPECT_EQ(c->head_dim, 128);
  EXPECT_EQ(c->eos_token_ids.size(), 2u);
}

TEST(ModelConfigParse, ToJsonRoundTripsEveryPreset) {
  for (Arch arch : {Arch::kQwen2, Arch::kQwen3}) {
    for (const auto& name : PresetNames(arch)) {
      auto p = PresetConfig(arch, name);
      ASSERT_TRUE(p.ok()) << name;
      auto back = ParseModelConfig(p->ToJson().dump(), name);
      ASSERT_TRUE(back.ok()) << name << ": " << back.status().ToString();
      EXPECT_EQ(back->hidden_size, p->hidden_size) << name;
      EXPECT_EQ(back->head_dim, p->head_dim) << name;
      EXPECT_EQ(back->tie_word_embeddings, p->tie_word_embeddings) << name;
      EXPECT_EQ(back->attention_bias, p->attention_bias) << name;
      EXPECT_EQ(back->vocab_size, p->vocab_size) << name;
    }
  }
  EXPECT_FALSE(PresetConfig(Arch::kQwen2, "0.6b").ok());
}

struct BadCase {
  const char* field;
  json value;
  const char* message;
};

TEST(ModelConfigParse, RefusesWhatItDoesNotImplementNamingTheField) {
  const BadCase cases[] = {
      {"architectures", json::array({"LlamaForCausalLM"}), "field architectures is LlamaForCausalLM"},
      {"rope_scaling", json{{"rope_type", "yarn"}, {"factor", 4.0}}, "field rope_scaling"},
      {"use_sliding_window", true, "field use_sliding_window"},
      {"hidden_act", "gelu", "field hidden_act"},
      {"num_key_value_heads", 3, "field num_key_value_heads"},
      {"hidden_size", "1024", "field hidden_size must be an integer"},
      {"torch_dtype", "float8", "field torch_dtype"},
      {"vocab_size", 0, "field vocab_size must be > 0"},
  };
  for (const auto& bc : cases) {
    json j = json::parse(kQwen3_06B);
    j[bc.field] = bc.value;
    auto c = ParseModelConfig(j.dump(), "/m/config.json");
    ASSERT_FALSE(c.ok()) << bc.field;
    EXPECT_THAT(c.status().message(), HasSubstr(bc.message)) << bc.field;
    EXPECT_THAT(c.status().message(), HasSubstr("/m/config.json")) << bc.field;
  }
  json j = json::parse(kQwen3_06B);
  j.erase("num_hidden_layers");
  auto c = ParseModelConfig(j.dump(), "config.json");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("field num_hidden_layers is missing"));
  EXPECT_FALSE(ParseModelConfig("not json", "config.json").ok());
}

// Issue 14: fields whose products wrap 64 bits must be refused before any size is computed.
TEST(ModelConfigParse, FieldsWhoseProductsOverflowAreRefused) {
  json j = json::parse(kQwen3_06B);
  j["vocab_size"] = int64_t{1} << 40;
  j["hidden_size"] = int64_t{1} << 30;  // [2^40, 2^30] fp32 = 2^72 bytes
  j["num_attention_heads"] = 16;
  auto c = ParseModelConfig(j.dump(), "cfg/config.json");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("cfg/config.json"));
  EXPECT_THAT(c.status().message(), HasSubstr("vocab_size x hidden_size"));
  j = json::parse(kQwen3_06B);
  j["num_attention_heads"] = int64_t{1} << 40;
  j["num_key_value_heads"] = int64_t{1} << 40;
  j["head_dim"] = int64_t{1} << 40;  // q_dim itself wraps
  c = ParseModelConfig(j.dump(), "cfg/config.json");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("head_dim overflows"));
}

TEST(LoraConfigParse, RankWhoseMatricesOverflowIsRefused) {
  auto base = ParseModelConfig(kQwen3_06B, "config.json");
  ASSERT_TRUE(base.ok());
  auto lc = ParseLoraConfig("a/adapter_config.json",
                            R"({"peft_type": "LORA", "r": 4611686018427387904, "lora_alpha": 16, "target_modules": ["q_proj"]})");
  ASSERT_TRUE(lc.ok()) << lc.status().ToString();
  ASSERT_TRUE(ResolveLoraTargets("a/adapter_config.json", *base, &*lc).ok());
  Status st = CheckLoraShapes(*base, *lc, "a/adapter_config.json");
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.message(), HasSubstr("a/adapter_config.json"));
  EXPECT_THAT(st.message(), HasSubstr("q_proj"));
  lc->r = 16;
  EXPECT_TRUE(CheckLoraShapes(*base, *lc, "a/adapter_config.json").ok());
}

const char* kAdapterHead = R"({"peft_type": "LORA", "r": 4, "lora_alpha": 8, "target_modules": )";

// The regex is matched (Python re.fullmatch) against every layer's module paths of the base.
Result<LoraConfig> ParseAndResolve(const std::string& path, const std::string& text) {
  auto base = ParseModelConfig(kQwen3_06B, "config.json");
  if (!base.ok()) return base.status();
  auto lc = ParseLoraConfig(path, text);
  if (!lc.ok()) return lc.status();
  RITSU_RETURN_IF_ERROR(ResolveLoraTargets(path, *base, &*lc));
  return lc;
}

TEST(LoraConfigParse, TargetModulesRegexFollowsPythonFullMatch) {
  auto lc = ParseAndResolve("adapter_config.json", std::string(kAdapterHead) + R"J(".*\\.(q_proj|down_proj)"})J");
  ASSERT_TRUE(lc.ok()) << lc.status().ToString();
  EXPECT_EQ(lc->target_modules, (std::vector<std::string>{"q_proj", "down_proj"}));
  lc = ParseAndResolve("adapter_config.json", std::string(kAdapterHead) + R"("all-linear"})");
  ASSERT_TRUE(lc.ok());
  EXPECT_EQ(lc->target_modules.size(), 7u);
  lc = ParseAndResolve("adapter_config.json", std::string(kAdapterHead) + R"("q_proj"})");  // full match only
  ASSERT_FALSE(lc.ok());
  EXPECT_THAT(lc.status().message(), HasSubstr("selects no linear layer"));
  lc = ParseLoraConfig("a/adapter_config.json", std::string(kAdapterHead) + R"("(q_proj"})");
  ASSERT_FALSE(lc.ok());
  EXPECT_THAT(lc.status().message(), HasSubstr("a/adapter_config.json: field target_modules regex"));
}

// std::regex backtracked for minutes on "(.*)*x" against a 31-character module name. PCRE2
// fails that one at once (no 'x' in the subject); "(.|\w)*[0-9]{2}" has 2^31 ways to fail
// (std::regex: 17 s here), and the bounded match gives up after 10^6 steps (~30 ms) with a
// message naming the field.
TEST(LoraConfigParse, CatastrophicBacktrackingRegexIsRefusedQuickly) {
  auto quick = ParseAndResolve("a/adapter_config.json", std::string(kAdapterHead) + R"("(.*)*x"})");
  ASSERT_FALSE(quick.ok());
  EXPECT_THAT(quick.status().message(), HasSubstr("selects no linear layer"));
  auto lc = ParseLoraConfig("a/adapter_config.json", std::string(kAdapterHead) + R"J("(.|\\w)*[0-9]{2}"})J");
  ASSERT_FALSE(lc.ok());
  EXPECT_THAT(lc.status().message(), HasSubstr("field target_modules"));
  EXPECT_THAT(lc.status().message(), HasSubstr("backtracking"));
}

// A layer number too large for int64 made std::stoll throw out of LoraAdapter::Load.
TEST(LoraAdapterLoad, HugeLayerNumberIsAnErrorNotAnException) {
  testing::TempDir dir;
  auto base = ParseModelConfig(kQwen3_06B, "config.json");
  ASSERT_TRUE(base.ok());
  std::ofstream(dir / "adapter_config.json") << kAdapterHead << R"(["q_proj"]})";
  const std::string name = "base_model.model.model.layers.99999999999999999999999.self_attn.q_proj.lora_A.weight";
  ASSERT_TRUE(WriteSafetensors(dir / "adapter_model.safetensors",
                               {TensorData::FromFloat(name, DType::kF32, {1}, {0.5f})}).ok());
  auto ad = LoraAdapter::Load(dir.path(), *base);
  ASSERT_FALSE(ad.ok());
  EXPECT_THAT(ad.status().message(), HasSubstr("tensor " + name + " is not a LoRA A/B weight"));
}

TEST(ModelConfigParse, MissingDirectoryIsNotFound) {
  auto c = LoadModelConfig("/nonexistent/dir");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("/nonexistent/dir/config.json"));
}

}  // namespace
}  // namespace ritsu::engine
