// NF4 weights and LoRA adapters in the model: each checked against an equivalent dense fp32
// model built by hand (dequantized weights; W + scale * B A merged), plus the adapter format.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/model/generator.h"
#include "engine/model/lora_adapter.h"
#include "engine/model/model.h"
#include "engine/model/tests/test_dir.h"
#include "engine/model/tests/tiny_model.h"
#include "kernels/nf4/nf4.h"

namespace ritsu::engine {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;

double MaxRelDiff(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num = std::max(num, std::abs(static_cast<double>(a[i]) - b[i]));
    den = std::max(den, std::abs(static_cast<double>(b[i])));
  }
  return num / den;
}

std::vector<int32_t> Tokens(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> t(n);
  for (auto& x : t) x = static_cast<int32_t>(rng() % 320);
  return t;
}

std::vector<float> Logits(const std::string& dir, const std::vector<int32_t>& tokens, ModelLoadOptions o = {}) {
  auto backend = MakeCpuBackend();
  auto m = Model::Load(dir, *backend, o);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  if (!m.ok()) return {};
  auto l = ComputeLogits(**m, tokens, true);
  EXPECT_TRUE(l.ok()) << l.status().ToString();
  return l.ok() ? *l : std::vector<float>{};
}

// NF4 round trip of one weight through the kernels (what the backend stores).
std::vector<float> Nf4RoundTrip(const std::vector<float>& w, int64_t rows, int64_t cols) {
  kernels::Nf4Tensor t;
  t.rows = rows;
  t.cols = cols;
  std::vector<uint8_t> packed(static_cast<size_t>(t.packed_bytes())), q(static_cast<size_t>(t.blocks()));
  std::vector<float> scale(static_cast<size_t>(t.absmax_blocks())), ws(static_cast<size_t>(t.blocks()));
  t.packed = packed.data();
  t.absmax_q = q.data();
  t.absmax_scale = scale.data();
  t.absmax_code = kernels::nf4_absmax_code();
  kernels::cpu::nf4_quantize<float>(w.data(), &t, ws.data(), nullptr);
  std::vector<float> out(w.size());
  kernels::cpu::nf4_dequantize<float>(t, 0, rows, out.data(), nullptr);
  return out;
}

struct Fixture {
  TempDir dir;
  ModelConfig c;
  std::map<std::string, std::vector<float>> w;
  explicit Fixture(Arch arch) : c(testing::TinyConfig(arch, false)) {
    testing::WriteTinyModel(c, 21, dir / "base");
    c = LoadModelConfig(dir / "base").value();
    w = testing::ReadAllFloat(dir / "base");
  }
};

// Dequantized weights through the dense path must equal the NF4 path: this isolates the NF4
// plumbing (quantize on load, fused GEMV for <= 8 rows, dequantized tiles + GEMM above) from
// quantization error. fp32 both sides, different summation order: 1e-5.
TEST(Nf4Model, EqualsDenseModelWithDequantizedWeights) {
  for (Arch arch : {Arch::kQwen3, Arch::kQwen2}) {
    Fixture f(arch);
    auto deq = f.w;
    for (int64_t l = 0; l < f.c.num_hidden_layers; ++l) {
      for (LinearModule m : kAllLinearModules) {
        const auto [o, i] = LinearModuleShape(f.c, m);
        auto& v = deq[LinearModulePath(l, m) + ".weight"];
        v = Nf4RoundTrip(v, o, i);
      }
    }
    testing::WriteFloatModel(f.c, deq, f.dir / "deq");
    for (size_t n : {5u, 12u}) {  // 5 rows: GEMV path; 12 rows: tiled GEMM path
      const auto tokens = Tokens(n, 3);
      const auto nf4 = Logits(f.dir / "base", tokens, {.load_in_4bit = true, .lora_dir = ""});
      const auto dense = Logits(f.dir / "deq", tokens);
      ASSERT_EQ(nf4.size(), dense.size());
      EXPECT_LT(MaxRelDiff(nf4, dense), 1e-5) << "rows " << n;
      // And quantization really happened: the bf16 model differs by far more.
      const auto bf16 = Logits(f.dir / "base", tokens);
      EXPECT_GT(MaxRelDiff(nf4, bf16), 1e-3);
    }
  }
}

LoraAdapter RandomAdapter(const ModelConfig& c, bool rslora, std::vector<std::string> targets) {
  LoraConfig lc;
  lc.r = 4;
  lc.lora_alpha = 8;
  lc.use_rslora = rslora;
  lc.target_modules = std::move(targets);
  lc.base_model_name_or_path = "tiny";
  LoraAdapter ad = LoraAdapter::Init(c, lc, 5);
  // PEFT starts B at zero; a trained adapter does not. Random B so the adapter matters.
  std::mt19937 rng(9);
  std::normal_distribution<float> nd(0.0f, 0.1f);
  for (auto& [key, lw] : ad.weights) {
    for (float& b : lw.b) b = nd(rng);
  }
  return ad;
}

// W' = W + scale * B A, computed in double.
std::map<std::string, std::vector<float>> Merge(const ModelConfig& c, std::map<std::string, std::vector<float>> w,
                                                const LoraAdapter& ad) {
  const double s = ad.config.Scale();
  for (const auto& [key, lw] : ad.weights) {
    auto& W = w[LinearModulePath(key.first, key.second) + ".weight"];
    for (int64_t o = 0; o < lw.out_features; ++o) {
      for (int64_t i = 0; i < lw.in_features; ++i) {
        double acc = 0;
        for (int64_t r = 0; r < lw.r; ++r) acc += static_cast<double>(lw.b[o * lw.r + r]) * lw.a[r * lw.in_features + i];
        W[o * lw.in_features + i] = static_cast<float>(W[o * lw.in_features + i] + s * acc);
      }
    }
  }
  (void)c;
  return w;
}

// Unmerged LoRA (y = Wx + s B(Ax)) must equal the merged dense weights: fp32 vs fp32 with the
// merge rounded once to fp32, so 1e-5 of the logit scale.
TEST(LoraModel, UnmergedEqualsMergedByHand) {
  for (bool rslora : {false, true}) {
    Fixture f(rslora ? Arch::kQwen2 : Arch::kQwen3);
    const auto ad = RandomAdapter(f.c, rslora, {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"});
    ASSERT_TRUE(ad.Save(f.dir / "adapter").ok());
    testing::WriteFloatModel(f.c, Merge(f.c, f.w, ad), f.dir / "merged");
    const auto tokens = Tokens(9, 4);
    const auto unmerged = Logits(f.dir / "base", tokens, {.load_in_4bit = false, .lora_dir = f.dir / "adapter"});
    const auto merged = Logits(f.dir / "merged", tokens);
    ASSERT_EQ(unmerged.size(), merged.size());
    EXPECT_LT(MaxRelDiff(unmerged, merged), 1e-5) << (rslora ? "rslora" : "lora");
    const auto base = Logits(f.dir / "base", tokens);
    EXPECT_GT(MaxRelDiff(unmerged, base), 1e-2) << "the adapter must change the logits";
  }
}

TEST(LoraModel, AdapterOnNf4BaseEqualsMergedDequantized) {
  Fixture f(Arch::kQwen3);
  const auto ad = RandomAdapter(f.c, false, {"q_proj", "v_proj"});
  ASSERT_TRUE(ad.Save(f.dir / "adapter").ok());
  auto deq = f.w;
  for (int64_t l = 0; l < f.c.num_hidden_layers; ++l) {
    for (LinearModule m : kAllLinearModules) {
      const auto [o, i] = LinearModuleShape(f.c, m);
      auto& v = deq[LinearModulePath(l, m) + ".weight"];
      v = Nf4RoundTrip(v, o, i);
    }
  }
  testing::WriteFloatModel(f.c, Merge(f.c, deq, ad), f.dir / "merged");
  const auto tokens = Tokens(10, 6);
  const auto qlora = Logits(f.dir / "base", tokens, {.load_in_4bit = true, .lora_dir = f.dir / "adapter"});
  const auto merged = Logits(f.dir / "merged", tokens);
  EXPECT_LT(MaxRelDiff(qlora, merged), 1e-5);
}

TEST(LoraAdapterFormat, SaveWritesPeftLayoutAndLoadReadsItBack) {
  Fixture f(Arch::kQwen3);
  const auto ad = RandomAdapter(f.c, true, {"q_proj", "down_proj"});
  ASSERT_TRUE(ad.Save(f.dir / "adapter").ok());
  std::ifstream in(f.dir / "adapter/adapter_config.json");
  const auto j = nlohmann::json::parse(in);
  EXPECT_EQ(j["peft_type"], "LORA");
  EXPECT_EQ(j["r"], 4);
  EXPECT_EQ(j["lora_alpha"], 8);
  EXPECT_EQ(j["use_rslora"], true);
  EXPECT_EQ(j["task_type"], "CAUSAL_LM");
  auto ck = Checkpoint::OpenFile(f.dir / "adapter/adapter_model.safetensors");
  ASSERT_TRUE(ck.ok());
  EXPECT_EQ((*ck)->tensors().size(), 2u * 2u * 2u);  // 2 layers x 2 modules x (A, B)
  const TensorView* a = (*ck)->Find("base_model.model.model.layers.1.mlp.down_proj.lora_A.weight");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->shape, (std::vector<int64_t>{4, 128}));
  const TensorView* b = (*ck)->Find("base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->shape, (std::vector<int64_t>{128, 4}));  // Qwen3 tiny: q_dim 128
  auto back = LoraAdapter::Load(f.dir / "adapter", f.c);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_DOUBLE_EQ(back->config.Scale(), 8.0 / 2.0);  // rslora: alpha / sqrt(r)
  EXPECT_EQ(back->Find(1, LinearModule::kDown)->a, ad.Find(1, LinearModule::kDown)->a);
  EXPECT_EQ(back->Find(0, LinearModule::kQ)->b, ad.Find(0, LinearModule::kQ)->b);
  EXPECT_EQ(back->Find(0, LinearModule::kV), nullptr);
}

TEST(LoraAdapterFormat, MismatchesAreErrorsNamingTensorOrField) {
  Fixture f(Arch::kQwen3);
  const auto ad = RandomAdapter(f.c, false, {"q_proj", "v_proj"});
  ASSERT_TRUE(ad.Save(f.dir / "adapter").ok());
  // Against a base with another hidden size, A's in_features no longer match.
  ModelConfig other = f.c;
  other.hidden_size = 128;
  auto r = LoraAdapter::Load(f.dir / "adapter", other);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("lora_A.weight has shape [4, 64], the config expects [4, 128]"));
  // Against a base with fewer layers.
  other = f.c;
  other.num_hidden_layers = 1;
  r = LoraAdapter::Load(f.dir / "adapter", other);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("layer 1"));
  // target_modules that do not list a module the file has.
  auto edit_config = [&](const std::function<void(nlohmann::json&)>& fn) {
    std::ifstream in(f.dir / "adapter/adapter_config.json");
    auto j = nlohmann::json::parse(in);
    fn(j);
    std::ofstream(f.dir / "adapter/adapter_config.json") << j.dump();
  };
  edit_config([](nlohmann::json& j) { j["target_modules"] = {"q_proj"}; });
  r = LoraAdapter::Load(f.dir / "adapter", f.c);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("self_attn.v_proj.lora_A.weight is for v_proj, which target_modules"));
  // A module listed but absent from the file.
  edit_config([](nlohmann::json& j) { j["target_modules"] = {"q_proj", "v_proj", "k_proj"}; });
  r = LoraAdapter::Load(f.dir / "adapter", f.c);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("model.layers.0.self_attn.k_proj.lora_A.weight is missing"));
  edit_config([](nlohmann::json& j) { j["target_modules"] = {"q_proj", "v_proj", "lm_head"}; });
  r = LoraAdapter::Load(f.dir / "adapter", f.c);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("field target_modules names \"lm_head\""));
  edit_config([](nlohmann::json& j) {
    j["target_modules"] = {"q_proj", "v_proj"};
    j["use_dora"] = true;
  });
  r = LoraAdapter::Load(f.dir / "adapter", f.c);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("field use_dora"));
  // A regex target_modules as PEFT writes for "all-linear"-style configs still loads.
  edit_config([](nlohmann::json& j) {
    j["use_dora"] = false;
    j["target_modules"] = ".*\\.(q_proj|v_proj)";
  });
  r = LoraAdapter::Load(f.dir / "adapter", f.c);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  // Missing directory.
  r = LoraAdapter::Load(f.dir / "nope", f.c);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("adapter_config.json"));
}

// peft's target_modules spellings: a list entry selects a module whose path equals it or ends
// with "." + entry; full paths select single layers (peft writes those for small models'
// all-linear adapters). Before, only the bare names were accepted.
TEST(LoraAdapterFormat, PeftSuffixAndFullPathTargetModulesLoad) {
  Fixture f(Arch::kQwen3);
  ASSERT_GE(f.c.num_hidden_layers, 2);
  auto ad = RandomAdapter(f.c, false, {"q_proj", "v_proj"});
  ASSERT_TRUE(ad.Save(f.dir / "suffix").ok());
  auto edit = [&](const std::string& dir, const nlohmann::json& targets) {
    std::ifstream in(dir + "/adapter_config.json");
    auto j = nlohmann::json::parse(in);
    j["target_modules"] = targets;
    std::ofstream(dir + "/adapter_config.json") << j.dump();
  };
  edit(f.dir / "suffix", {"self_attn.q_proj", "self_attn.v_proj"});
  auto r = LoraAdapter::Load(f.dir / "suffix", f.c);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->config.target_modules, (std::vector<std::string>{"q_proj", "v_proj"}));
  EXPECT_EQ(r->Find(1, LinearModule::kV)->b, ad.Find(1, LinearModule::kV)->b);

  // v_proj in layer 1 only, by its full path; q_proj everywhere.
  auto partial = ad;
  partial.weights.erase({0, LinearModule::kV});
  ASSERT_TRUE(partial.Save(f.dir / "full").ok());
  edit(f.dir / "full", {"q_proj", "model.layers.1.self_attn.v_proj"});
  r = LoraAdapter::Load(f.dir / "full", f.c);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->Find(0, LinearModule::kV), nullptr);
  ASSERT_NE(r->Find(1, LinearModule::kV), nullptr);
  EXPECT_EQ(r->Find(1, LinearModule::kV)->a, ad.Find(1, LinearModule::kV)->a);
  EXPECT_TRUE(r->config.TargetsAt(1, LinearModule::kV));
  EXPECT_FALSE(r->config.TargetsAt(0, LinearModule::kV));
  // The inference engine loads it (layer 1 with v_proj, layer 0 without).
  auto backend = MakeCpuBackend();
  ModelLoadOptions lo;
  lo.lora_dir = f.dir / "full";
  auto model = Model::Load(f.dir / "base", *backend, lo);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  // Saved again, the spelling is kept (not widened to every layer's v_proj).
  ASSERT_TRUE(r->Save(f.dir / "again").ok());
  auto again = nlohmann::json::parse(std::ifstream(f.dir / "again/adapter_config.json"));
  EXPECT_EQ(again["target_modules"], nlohmann::json({"q_proj", "model.layers.1.self_attn.v_proj"}));
  ASSERT_TRUE(LoraAdapter::Load(f.dir / "again", f.c).ok());

  // The layer-0 tensor present but only layer 1 targeted: refused, naming the tensor.
  ASSERT_TRUE(ad.Save(f.dir / "extra").ok());
  edit(f.dir / "extra", {"q_proj", "model.layers.1.self_attn.v_proj"});
  r = LoraAdapter::Load(f.dir / "extra", f.c);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("model.layers.0.self_attn.v_proj.lora_A.weight is for v_proj"));
  // An entry naming a layer the base does not have, or a partial name, selects nothing.
  for (const char* bad : {"model.layers.9.self_attn.v_proj", "proj", "attn.q_proj"}) {
    edit(f.dir / "full", {"q_proj", bad});
    r = LoraAdapter::Load(f.dir / "full", f.c);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_THAT(r.status().message(), HasSubstr(std::string("field target_modules names \"") + bad + "\"")) << bad;
  }
  // A regex is matched per layer, as peft's re.fullmatch on the module path.
  edit(f.dir / "full", R"(.*\.(q_proj|1\.self_attn\.v_proj))");
  r = LoraAdapter::Load(f.dir / "full", f.c);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->Find(0, LinearModule::kV), nullptr);
}

}  // namespace
}  // namespace ritsu::engine
