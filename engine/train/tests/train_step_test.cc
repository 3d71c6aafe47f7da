// One training step of a tiny random Qwen model against a float64 reference: the LoRA
// gradients the trainer computes (analytic backward through every block, fp32) are compared
// with central finite differences of an independent float64 forward (engine/model/tests/
// reference_qwen.cc, written from HF's modeling code) with the LoRA folded into the weights.
#include <cmath>
#include <random>

#include <gtest/gtest.h>

#include "engine/model/safetensors.h"
#include "engine/model/tests/reference_qwen.h"
#include "engine/model/tests/test_dir.h"
#include "engine/model/tests/tiny_model.h"
#include "engine/train/lora_net.h"
#include "engine/train/train_data.h"

namespace ritsu::train {
namespace {

using engine::Arch;
using engine::ModelConfig;
namespace et = engine::testing;

struct Fixture {
  ModelConfig c;
  std::unique_ptr<engine::Checkpoint> ck;
  et::WeightMap w64;
  engine::LoraConfig lora;
};

// A LoRA pair copied to the host.
struct HostParam {
  int64_t layer, r, in_features, out_features;
  LinearModule module;
  std::vector<float> a, b;
};

// Mean cross-entropy of the labelled rows in float64, LoRA folded: W' = W + s B A.
double ReferenceLoss(const Fixture& f, const std::vector<HostParam>& params, float scale,
                     const std::vector<std::vector<int32_t>>& seqs, const std::vector<std::vector<int32_t>>& labels) {
  et::WeightMap w = f.w64;
  for (const HostParam& p : params) {
    auto& W = w.at(engine::LinearModulePath(p.layer, p.module) + ".weight");
    for (int64_t o = 0; o < p.out_features; ++o) {
      for (int64_t i = 0; i < p.in_features; ++i) {
        double s = 0;
        for (int64_t k = 0; k < p.r; ++k) s += static_cast<double>(p.b[o * p.r + k]) * p.a[k * p.in_features + i];
        W[o * p.in_features + i] += scale * s;
      }
    }
  }
  double total = 0;
  int64_t count = 0;
  for (size_t s = 0; s < seqs.size(); ++s) {
    auto logits = et::ReferenceLogits(f.c, w, seqs[s]);
    for (size_t t = 0; t < seqs[s].size(); ++t) {
      if (labels[s][t] < 0) continue;
      double mx = -1e300;
      for (double v : logits[t]) mx = std::max(mx, v);
      double z = 0;
      for (double v : logits[t]) z += std::exp(v - mx);
      total += std::log(z) + mx - logits[t][static_cast<size_t>(labels[s][t])];
      ++count;
    }
  }
  return total / static_cast<double>(count);
}

void CheckOneStep(Arch arch, bool tie) {
  et::TempDir dir;
  Fixture f;
  f.c = et::TinyConfig(arch, tie);
  et::WriteTinyModel(f.c, 11, dir.path());
  f.ck = engine::Checkpoint::OpenDir(dir.path()).value();
  f.w64 = et::ToDouble(et::ReadAllFloat(dir.path()));
  f.lora.r = 4;
  f.lora.lora_alpha = 8;
  f.lora.lora_dropout = 0.0;
  for (auto m : engine::kAllLinearModules) f.lora.target_modules.push_back(engine::LinearModuleName(m));
  engine::LoraAdapter init = engine::LoraAdapter::Init(f.c, f.lora, 5);
  // PEFT's B = 0 would make every A gradient zero: give B values so both are exercised.
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.0f, 0.2f);
  for (auto& [key, lw] : init.weights) {
    for (float& x : lw.b) x = nd(rng);
  }
  auto net = LoraNet::Create(f.c, *f.ck, false, init).value();

  TokenizedSample s1{{3, 17, 250, 9, 44, 101, 7}, 3, 1}, s2{{5, 6, 200, 31, 12}, 2, 2};
  PackedBatch batch = PackBatch({&s1, &s2}, /*output_only=*/true);
  std::vector<std::vector<int32_t>> seqs = {s1.ids, s2.ids}, labels(2);
  for (int i = 0; i < 2; ++i) {
    labels[i].assign(batch.labels.begin() + batch.cu_seqlens[i], batch.labels.begin() + batch.cu_seqlens[i + 1]);
  }
  const int64_t nl = batch.n_labels();
  ASSERT_EQ(nl, 4 + 3);  // positions predicting an output token
  LossResult r = net->LossAndGrad(batch, 1.0f / static_cast<float>(nl), 0, true);
  std::vector<HostParam> params;
  for (const LoraParam& p : net->params()) {
    params.push_back({p.layer, p.r, p.in_features, p.out_features, p.module, net->Host(p.a), net->Host(p.b)});
  }
  const float scale = net->lora_scale();
  const double ref = ReferenceLoss(f, params, scale, seqs, labels);
  // fp32 forward vs float64: relative 1e-5 covers the rounding of a 2-layer, 64-wide model.
  EXPECT_NEAR(r.loss_sum / nl, ref, 1e-5 * std::abs(ref));

  // Central differences in float64 on a few entries of every A and B. h = 1e-3 keeps the
  // truncation error (O(h^2) ~ 1e-6 relative) below the fp32 noise of the analytic gradient;
  // tolerance: 2e-3 of the tensor's largest gradient plus 1e-6 absolute.
  const double h = 1e-3;
  int checked = 0;
  for (size_t pi = 0; pi < params.size(); ++pi) {
    for (int which = 0; which < 2; ++which) {
      auto& vec = which == 0 ? params[pi].a : params[pi].b;
      const std::vector<float> grad = net->Host(which == 0 ? net->params()[pi].grad_a : net->params()[pi].grad_b);
      double gmax = 0;
      for (float g : grad) gmax = std::max(gmax, static_cast<double>(std::abs(g)));
      ASSERT_GT(gmax, 0.0) << "zero gradient for param " << pi << (which ? " B" : " A");
      for (size_t idx : {size_t{0}, vec.size() / 2 + 1, vec.size() - 1}) {
        const float saved = vec[idx];
        vec[idx] = static_cast<float>(saved + h);
        const double up = ReferenceLoss(f, params, scale, seqs, labels);
        vec[idx] = static_cast<float>(saved - h);
        const double down = ReferenceLoss(f, params, scale, seqs, labels);
        vec[idx] = saved;
        const double actual_h = (static_cast<double>(static_cast<float>(saved + h)) - static_cast<float>(saved - h)) / 2;
        const double fd = (up - down) / (2 * actual_h);
        EXPECT_NEAR(grad[idx], fd, 2e-3 * gmax + 1e-6)
            << engine::LinearModulePath(params[pi].layer, params[pi].module) << (which ? " B" : " A") << "[" << idx << "]";
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, static_cast<int>(params.size()) * 6);
}

TEST(TrainStep, Qwen3GradientsMatchFloat64FiniteDifferences) { CheckOneStep(Arch::kQwen3, true); }
TEST(TrainStep, Qwen2WithBiasUntiedGradientsMatchFloat64FiniteDifferences) { CheckOneStep(Arch::kQwen2, false); }

TEST(TrainStep, DropoutMasksAreReproducibleAndChangeTheGradient) {
  et::TempDir dir;
  ModelConfig c = et::TinyConfig(Arch::kQwen3, true);
  et::WriteTinyModel(c, 2, dir.path());
  auto ck = engine::Checkpoint::OpenDir(dir.path()).value();
  engine::LoraConfig lora;
  lora.r = 4;
  lora.lora_dropout = 0.3;
  lora.target_modules = {"q_proj", "v_proj"};
  auto init = engine::LoraAdapter::Init(c, lora, 1);
  for (auto& [k, w] : init.weights) std::fill(w.b.begin(), w.b.end(), 0.1f);
  auto net = LoraNet::Create(c, *ck, false, init).value();
  TokenizedSample s{{3, 4, 5, 6, 7, 8}, 2, 1};
  PackedBatch b = PackBatch({&s}, false);
  auto grads = [&](uint64_t seed) {
    net->ZeroGrads();
    net->LossAndGrad(b, 1.0f, seed, true);
    return net->Host(net->params()[0].grad_a);
  };
  EXPECT_EQ(grads(9), grads(9));
  EXPECT_NE(grads(9), grads(10));
}

}  // namespace
}  // namespace ritsu::train
