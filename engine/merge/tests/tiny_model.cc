#include "engine/merge/tests/tiny_model.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <vector>

#include "engine/model/safetensors.h"

namespace ritsu::merge::testing {

namespace fs = std::filesystem;
using engine::DType;
using engine::ModelConfig;

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/ritsu-merge-test-XXXXXX";
  char* made = mkdtemp(tmpl.data());
  EXPECT_NE(made, nullptr);
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

ModelConfig TinyQwen3Config() {
  ModelConfig c;
  c.arch = engine::Arch::kQwen3;
  c.hidden_size = 256;
  c.num_hidden_layers = 4;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 64;
  c.intermediate_size = 512;
  c.vocab_size = 300;
  c.max_position_embeddings = 2048;
  c.rope_theta = 1e6;
  c.rms_norm_eps = 1e-6;
  c.tie_word_embeddings = true;
  c.attention_bias = false;
  c.torch_dtype = DType::kBF16;
  c.bos_token_id = 290;
  c.eos_token_ids = {290};
  return c;
}

ModelConfig TinyQwen2Config() {
  ModelConfig c = TinyQwen3Config();
  c.arch = engine::Arch::kQwen2;
  c.hidden_size = 64;
  c.num_hidden_layers = 2;
  c.head_dim = 16;
  c.intermediate_size = 128;
  c.tie_word_embeddings = false;
  c.attention_bias = true;
  c.rope_theta = 10000;
  return c;
}

namespace {

std::vector<std::pair<std::string, std::vector<int64_t>>> TensorShapes(const ModelConfig& c) {
  std::vector<std::pair<std::string, std::vector<int64_t>>> out;
  const int64_t h = c.hidden_size, q = c.q_dim(), kv = c.kv_dim(), f = c.intermediate_size;
  out.push_back({"model.embed_tokens.weight", {c.vocab_size, h}});
  out.push_back({"model.norm.weight", {h}});
  if (!c.tie_word_embeddings) out.push_back({"lm_head.weight", {c.vocab_size, h}});
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    out.push_back({p + "input_layernorm.weight", {h}});
    out.push_back({p + "post_attention_layernorm.weight", {h}});
    out.push_back({p + "self_attn.q_proj.weight", {q, h}});
    out.push_back({p + "self_attn.k_proj.weight", {kv, h}});
    out.push_back({p + "self_attn.v_proj.weight", {kv, h}});
    out.push_back({p + "self_attn.o_proj.weight", {h, q}});
    if (c.attention_bias) {
      out.push_back({p + "self_attn.q_proj.bias", {q}});
      out.push_back({p + "self_attn.k_proj.bias", {kv}});
      out.push_back({p + "self_attn.v_proj.bias", {kv}});
    }
    if (c.arch == engine::Arch::kQwen3) {
      out.push_back({p + "self_attn.q_norm.weight", {c.head_dim}});
      out.push_back({p + "self_attn.k_norm.weight", {c.head_dim}});
    }
    out.push_back({p + "mlp.gate_proj.weight", {f, h}});
    out.push_back({p + "mlp.up_proj.weight", {f, h}});
    out.push_back({p + "mlp.down_proj.weight", {h, f}});
  }
  return out;
}

void WriteTokenizer(const std::string& dir) {
  nlohmann::json vocab = nlohmann::json::object();
  for (int i = 0; i < 290; ++i) vocab["t" + std::to_string(i)] = i;
  nlohmann::json merges = nlohmann::json::array();
  merges.push_back({"t1", "t2"});
  merges.push_back({"t3", "t4"});
  merges.push_back({"t12", "t34"});
  auto added = [](int id, const char* text, bool special) {
    return nlohmann::json{{"id", id}, {"content", text}, {"special", special}, {"normalized", false}};
  };
  nlohmann::json tok = {
      {"version", "1.0"},
      {"added_tokens",
       {added(290, "<|endoftext|>", true), added(291, "<|im_start|>", true), added(292, "<|im_end|>", true),
        added(293, "<think>", false)}},
      {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}}}};
  std::ofstream(dir + "/tokenizer.json") << tok.dump();
  nlohmann::json cfg = {{"add_bos_token", false},          {"bos_token", nullptr},
                        {"eos_token", "<|im_end|>"},       {"pad_token", "<|endoftext|>"},
                        {"chat_template", "{% for m in messages %}<|im_start|>{{ m.role }}{% endfor %}"}};
  std::ofstream(dir + "/tokenizer_config.json") << cfg.dump(2);
}

}  // namespace

void WriteTinyModel(const std::string& dir, const ModelConfig& c, DType dtype, uint64_t seed, bool tokenizer,
                    uint64_t max_shard_bytes) {
  fs::create_directories(dir);
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0.0f, 0.05f);
  std::vector<engine::TensorData> tensors;
  for (const auto& [name, shape] : TensorShapes(c)) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::vector<float> v(static_cast<size_t>(n));
    const bool norm = name.find("norm") != std::string::npos;
    for (auto& x : v) x = norm ? 1.0f + g(rng) : g(rng);
    tensors.push_back(engine::TensorData::FromFloat(name, dtype, shape, v));
  }
  ASSERT_TRUE(engine::WriteCheckpointDir(dir, tensors, max_shard_bytes).ok());
  ModelConfig written = c;
  written.torch_dtype = dtype;
  std::ofstream(dir + "/config.json") << written.ToJson().dump(2);
  if (tokenizer) WriteTokenizer(dir);
}

engine::LoraAdapter MakeAdapter(const ModelConfig& config, uint64_t seed) {
  engine::LoraConfig lc;
  lc.r = 4;
  lc.lora_alpha = 8;
  lc.target_modules = {"q_proj", "v_proj", "down_proj"};
  engine::LoraAdapter ad = engine::LoraAdapter::Init(config, lc, seed);
  std::mt19937_64 rng(seed + 1);
  std::normal_distribution<float> g(0.0f, 0.05f);
  for (auto& [key, w] : ad.weights) {
    for (auto& x : w.b) x = g(rng);  // PEFT starts B at zero; a trained adapter has B != 0
  }
  return ad;
}

}  // namespace ritsu::merge::testing
