// LoRA merge: the merged weights equal W + scale*B*A element-wise, every other tensor is copied
// unchanged, the output directory is complete (config, generation config, tokenizer, index when
// sharded), and bad input (another base, quantized base, existing output) is refused with the
// culprit named and nothing left behind.
#include "engine/merge/lora_merge.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "engine/merge/tests/tiny_model.h"
#include "engine/model/safetensors.h"

namespace ritsu::merge {
namespace {

namespace fs = std::filesystem;
using engine::DType;
using ::testing::HasSubstr;
using testing::TempDir;

MergeOptions Opts(const TempDir& tmp) {
  MergeOptions o;
  o.base_dir = tmp / "base";
  o.lora_dir = tmp / "lora";
  o.output_dir = tmp / "out";
  o.threads = 2;
  return o;
}

// Expected merged value in double precision: W + (alpha/r) * sum_k B[o,k] A[k,i]; `magnitude`
// receives |W| + scale * sum_k |B[o,k] A[k,i]|, the size of the addends that fp32 rounds.
std::vector<double> Expected(const std::vector<float>& w, const engine::LoraWeights& lw, double scale,
                             std::vector<double>* magnitude) {
  std::vector<double> out(w.begin(), w.end());
  magnitude->assign(w.size(), 0.0);
  for (int64_t o = 0; o < lw.out_features; ++o) {
    for (int64_t i = 0; i < lw.in_features; ++i) {
      double d = 0, m = 0;
      for (int64_t k = 0; k < lw.r; ++k) {
        const double p = double(lw.b[o * lw.r + k]) * lw.a[k * lw.in_features + i];
        d += p;
        m += std::fabs(p);
      }
      const size_t at = static_cast<size_t>(o * lw.in_features + i);
      out[at] += scale * d;
      (*magnitude)[at] = std::fabs(w[at]) + scale * m;
    }
  }
  return out;
}

// Merges a tiny Qwen3 in `dtype` and compares every merged element with the double-precision
// reference. Tolerance: fp32 base — 1e-6 relative (fp32 accumulation of 4 products plus one
// add, ~10 ulps); bf16/f16 base — the merged value is rounded once to the
// storage type, so it must be within one storage ulp (2^-8 / 2^-11 relative, half-ulp rounding
// plus margin) of the reference; both plus 1e-6 of the addends for the fp32 accumulation.
void CheckMergeMatchesReference(DType dtype, double rel_tol) {
  TempDir tmp;
  const auto config = testing::TinyQwen3Config();
  testing::WriteTinyModel(tmp / "base", config, dtype, 11);
  const auto adapter = testing::MakeAdapter(config, 5);
  ASSERT_TRUE(adapter.Save(tmp / "lora").ok());
  MergeOptions opt;
  opt.base_dir = tmp / "base";
  opt.lora_dir = tmp / "lora";
  opt.output_dir = tmp / "out";
  opt.threads = 2;
  auto r = MergeLora(opt);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->modules_merged, 3u * 4u);  // q, v, down in 4 layers
  EXPECT_DOUBLE_EQ(r->lora_scale, 2.0);   // alpha 8 / r 4

  auto base = engine::Checkpoint::OpenDir(tmp / "base");
  auto merged = engine::Checkpoint::OpenDir(tmp / "out");
  ASSERT_TRUE(base.ok() && merged.ok());
  ASSERT_EQ((*merged)->tensors().size(), (*base)->tensors().size());
  size_t checked_modules = 0;
  for (const auto& [name, view] : (*base)->tensors()) {
    const engine::TensorView* m = (*merged)->Find(name);
    ASSERT_NE(m, nullptr) << name;
    ASSERT_EQ(m->dtype, view.dtype) << name;  // written in the base dtype
    ASSERT_EQ(m->shape, view.shape) << name;
    const engine::LoraWeights* lw = nullptr;
    for (const auto& [key, w] : adapter.weights) {
      if (engine::LinearModulePath(key.first, key.second) + ".weight" == name) lw = &w;
    }
    if (!lw) {
      ASSERT_EQ(std::memcmp(m->data, view.data, view.nbytes), 0) << name << " must be copied unchanged";
      continue;
    }
    ++checked_modules;
    auto w = (*base)->ReadFloat(name);
    auto got = (*merged)->ReadFloat(name);
    std::vector<double> magnitude;
    const auto want = Expected(*w, *lw, 2.0, &magnitude);
    double max_changed = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      // fp32 accumulation error scales with the addends (cancellation can make the sum tiny).
      const double fp32_err = 1e-6 * magnitude[i];
      const double tol = rel_tol * std::max(std::fabs(want[i]), 1e-3) + fp32_err;
      ASSERT_NEAR((*got)[i], want[i], tol) << name << " element " << i;
      max_changed = std::max(max_changed, std::fabs(want[i] - (*w)[i]));
    }
    EXPECT_GT(max_changed, 1e-3) << name << ": the delta must be visible, or the test proves nothing";
  }
  EXPECT_EQ(checked_modules, 12u);
  for (const char* f : {"config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json"}) {
    EXPECT_TRUE(fs::exists(tmp / ("out/" + std::string(f)))) << f;
  }
  for (const auto& e : fs::directory_iterator(tmp.path())) {
    EXPECT_THAT(e.path().filename().string(), ::testing::Not(HasSubstr(".tmp-"))) << "temporary dir left behind";
  }
}

TEST(MergeTest, Fp32MergeEqualsWPlusScaledBA) { CheckMergeMatchesReference(DType::kF32, 0.0); }
TEST(MergeTest, Bf16MergeEqualsWPlusScaledBAWithinOneUlp) { CheckMergeMatchesReference(DType::kBF16, 0x1p-8 * 1.01); }
TEST(MergeTest, F16MergeEqualsWPlusScaledBAWithinOneUlp) { CheckMergeMatchesReference(DType::kF16, 0x1p-11 * 1.01); }

TEST(MergeTest, ShardedBaseGivesShardedOutputWithIndex) {
  TempDir tmp;
  const auto config = testing::TinyQwen2Config();
  testing::WriteTinyModel(tmp / "base", config, DType::kBF16, 3, true, 64 * 1024);
  ASSERT_TRUE(fs::exists(tmp / "base/model.safetensors.index.json"));
  ASSERT_TRUE(testing::MakeAdapter(config, 9).Save(tmp / "lora").ok());
  MergeOptions opt = Opts(tmp);
  opt.max_shard_bytes = 64 * 1024;
  auto r = MergeLora(opt);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(fs::exists(tmp / "out/model.safetensors.index.json"));
  auto merged = engine::Checkpoint::OpenDir(tmp / "out");
  ASSERT_TRUE(merged.ok()) << merged.status().ToString();
  EXPECT_NE((*merged)->Find("model.layers.1.self_attn.q_proj.bias"), nullptr);
}

TEST(MergeTest, RefusesAdapterForAnotherBaseNamingTheTensor) {
  TempDir tmp;
  const auto small = testing::TinyQwen2Config();  // hidden 64
  auto other = small;
  other.hidden_size = 128;  // the adapter was trained on a wider model
  other.head_dim = 32;
  testing::WriteTinyModel(tmp / "base", small, DType::kBF16, 1);
  ASSERT_TRUE(testing::MakeAdapter(other, 2).Save(tmp / "lora").ok());
  MergeOptions opt = Opts(tmp);
  auto r = MergeLora(opt);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("does not fit base"));
  EXPECT_THAT(r.status().message(), HasSubstr("lora_"));  // names the offending adapter tensor
  EXPECT_FALSE(fs::exists(tmp / "out"));
}

TEST(MergeTest, RefusesAdapterWithMoreLayersThanTheBase) {
  TempDir tmp;
  const auto base_cfg = testing::TinyQwen2Config();
  auto deeper = base_cfg;
  deeper.num_hidden_layers = 3;
  testing::WriteTinyModel(tmp / "base", base_cfg, DType::kBF16, 1);
  ASSERT_TRUE(testing::MakeAdapter(deeper, 2).Save(tmp / "lora").ok());
  auto r = MergeLora(Opts(tmp));
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("layers.2"));
}

TEST(MergeTest, RefusesExistingOutputUnlessOverwrite) {
  TempDir tmp;
  const auto config = testing::TinyQwen2Config();
  testing::WriteTinyModel(tmp / "base", config, DType::kBF16, 1);
  ASSERT_TRUE(testing::MakeAdapter(config, 2).Save(tmp / "lora").ok());
  fs::create_directories(tmp / "out");
  std::ofstream(tmp / "out/old-marker") << "x";
  MergeOptions opt = Opts(tmp);
  auto r = MergeLora(opt);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kAlreadyExists);
  EXPECT_THAT(r.status().message(), HasSubstr("--overwrite"));
  EXPECT_TRUE(fs::exists(tmp / "out/old-marker"));
  opt.overwrite = true;
  auto r2 = MergeLora(opt);
  ASSERT_TRUE(r2.ok()) << r2.status().ToString();
  EXPECT_FALSE(fs::exists(tmp / "out/old-marker"));
  EXPECT_TRUE(fs::exists(tmp / "out/model.safetensors"));
  for (const auto& e : fs::directory_iterator(tmp.path())) {
    EXPECT_THAT(e.path().filename().string(), ::testing::Not(HasSubstr(".old-")));
  }
}

TEST(MergeTest, RefusesQuantizedBase) {
  TempDir tmp;
  const auto config = testing::TinyQwen2Config();
  testing::WriteTinyModel(tmp / "base", config, DType::kBF16, 1);
  ASSERT_TRUE(testing::MakeAdapter(config, 2).Save(tmp / "lora").ok());
  // A bitsandbytes-style extra tensor next to the weights: the lab's "Can not map tensor
  // ...absmax" situation, caught before anything is written.
  auto ck = engine::Checkpoint::OpenDir(tmp / "base");
  ASSERT_TRUE(ck.ok());
  std::vector<engine::TensorData> tensors;
  for (const auto& [name, view] : (*ck)->tensors()) {
    tensors.push_back({name, view.dtype, view.shape, std::vector<uint8_t>(view.data, view.data + view.nbytes)});
  }
  tensors.push_back({"model.layers.0.mlp.down_proj.weight.absmax", DType::kU8, {4}, {1, 2, 3, 4}});
  ck->reset();
  ASSERT_TRUE(engine::WriteSafetensors(tmp / "base/model.safetensors", tensors).ok());
  auto r = MergeLora(Opts(tmp));
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("down_proj.weight.absmax"));
  EXPECT_THAT(r.status().message(), HasSubstr("quantized"));
  EXPECT_FALSE(fs::exists(tmp / "out"));
}

TEST(MergeTest, AddLoraDeltaHandComputed) {
  // W = [[1, 2], [3, 4]], A = [[1, 0]] (r = 1), B = [[2], [-1]], scale 0.5:
  // B A = [[2, 0], [-1, 0]] -> W + 0.5 B A = [[2, 2], [2.5, 4]].
  float w[4] = {1, 2, 3, 4};
  const float a[2] = {1, 0}, b[2] = {2, -1};
  AddLoraDelta(w, a, b, 2, 2, 1, 0.5f);
  EXPECT_EQ(w[0], 2);
  EXPECT_EQ(w[1], 2);
  EXPECT_EQ(w[2], 2.5f);
  EXPECT_EQ(w[3], 4);
}

}  // namespace
}  // namespace ritsu::merge
