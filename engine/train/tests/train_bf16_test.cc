// bf16 compute (the GPU's default: frozen products and attention on bf16 operands with fp32
// accumulation) checked on the CPU twins, where CI can run it: one LossAndGrad of a tiny random
// Qwen against the fp32 oracle, dense and NF4 base. And the random-base weight source against
// the checkpoint make-model writes for the same seed.
#include <cmath>
#include <random>

#include <gtest/gtest.h>

#include "engine/model/random_model.h"
#include "engine/model/safetensors.h"
#include "engine/model/tests/test_dir.h"
#include "engine/model/tests/tiny_model.h"
#include "engine/train/lora_net.h"
#include "engine/train/tests/train_fixture.h"
#include "engine/train/train_data.h"
#include "engine/train/weight_source.h"

namespace ritsu::train {
namespace {

using engine::Arch;
namespace et = engine::testing;

struct StepResult {
  double loss = 0;
  std::vector<std::vector<float>> grads;  // grad_a, grad_b of every pair
};

StepResult OneStep(Arch arch, bool use_4bit, ComputeDtype compute, double dropout) {
  et::TempDir dir;
  engine::ModelConfig c = et::TinyConfig(arch, false);
  et::WriteTinyModel(c, 21, dir.path());
  auto ck = engine::Checkpoint::OpenDir(dir.path()).value();
  engine::LoraConfig lora;
  lora.r = 4;
  lora.lora_alpha = 8;
  lora.lora_dropout = dropout;
  for (auto m : engine::kAllLinearModules) lora.target_modules.push_back(engine::LinearModuleName(m));
  auto init = engine::LoraAdapter::Init(c, lora, 3);
  std::mt19937 rng(4);
  std::normal_distribution<float> nd(0.0f, 0.1f);
  for (auto& [k, w] : init.weights) for (float& x : w.b) x = nd(rng);  // B = 0 would hide grad_a
  auto net = LoraNet::Create(c, *ck, use_4bit, init, MakeCpuTrainDevice(compute)).value();
  std::vector<TokenizedSample> samples(2);
  for (int s = 0; s < 2; ++s) {
    for (int i = 0; i < 9 + 6 * s; ++i) samples[s].ids.push_back((i * 7 + s * 13 + 1) % static_cast<int32_t>(c.vocab_size));
    samples[s].prompt_len = 3;
  }
  PackedBatch b = PackBatch({&samples[0], &samples[1]}, true);
  StepResult r;
  r.loss = net->LossAndGrad(b, 1.0f / static_cast<float>(b.n_labels()), 17, true).loss_sum;
  for (const auto& p : net->params()) {
    r.grads.push_back(net->Host(p.grad_a));
    r.grads.push_back(net->Host(p.grad_b));
  }
  return r;
}

// Worst |a - b| over each tensor's max |a|.
double WorstRelative(const StepResult& a, const StepResult& b) {
  double worst = 0;
  for (size_t i = 0; i < a.grads.size(); ++i) {
    double mx = 0, d = 0;
    for (size_t j = 0; j < a.grads[i].size(); ++j) {
      mx = std::max(mx, std::abs(static_cast<double>(a.grads[i][j])));
      d = std::max(d, std::abs(static_cast<double>(a.grads[i][j]) - b.grads[i][j]));
    }
    worst = std::max(worst, d / std::max(mx, 1e-30));
  }
  return worst;
}

// Tolerance: bf16 keeps 8 significant bits (relative rounding 2^-9 = 2e-3 per cast); each
// frozen product and attention rounds its inputs once, and these roundings compound through 2
// blocks forward, the loss and 2 blocks backward of a model with a large init (0.2, logits of
// scale ~10). Measured here: 2.0e-2 .. 3.5e-2 of a tensor's max (the printed lines). 6e-2
// leaves room for a different summation order and still fails by O(1) on a wrong operand (a
// missed cast, a transposed or stale weight, a wrong attention scale).
constexpr double kBf16GradTol = 6e-2;
constexpr double kBf16LossTol = 1e-2;

void CheckBf16AgainstFp32(Arch arch, bool use_4bit, double dropout) {
  const StepResult f32 = OneStep(arch, use_4bit, ComputeDtype::kFp32, dropout);
  const StepResult b16 = OneStep(arch, use_4bit, ComputeDtype::kBf16, dropout);
  ASSERT_EQ(f32.grads.size(), b16.grads.size());
  EXPECT_NEAR(b16.loss, f32.loss, kBf16LossTol * std::abs(f32.loss));
  EXPECT_NE(b16.loss, f32.loss) << "bf16 compute gave the fp32 loss bit for bit: the bf16 path did not run";
  const double worst = WorstRelative(f32, b16);
  std::printf("bf16 vs fp32: loss %.6f vs %.6f, worst gradient difference %.3e of the tensor max\n", b16.loss, f32.loss, worst);
  EXPECT_LE(worst, kBf16GradTol);
}

TEST(TrainBf16, Qwen3DenseBaseMatchesFp32WithinBf16Rounding) { CheckBf16AgainstFp32(Arch::kQwen3, false, 0.0); }
TEST(TrainBf16, Qwen3Nf4BaseWithDropoutMatchesFp32WithinBf16Rounding) {
  CheckBf16AgainstFp32(Arch::kQwen3, true, 0.1);
}
TEST(TrainBf16, Qwen2Nf4BaseMatchesFp32WithinBf16Rounding) { CheckBf16AgainstFp32(Arch::kQwen2, true, 0.0); }

TEST(TrainRandomBase, SameLossesAsTheCheckpointMakeModelWrites) {
  engine::testing::TempDir dir;
  namespace fs = std::filesystem;
  const std::string full = dir.path() + "/full", cfg = dir.path() + "/config-only";
  engine::ModelConfig c = engine::PresetConfig(Arch::kQwen3, "tiny").value();
  engine::RandomModelOptions o;
  o.seed = 9;
  o.dtype = engine::DType::kBF16;
  o.tokenizer_dir = testing::kTokenizerDir;
  ASSERT_TRUE(engine::WriteRandomModel(c, o, full).ok());
  o.write_weights = false;
  ASSERT_TRUE(engine::WriteRandomModel(c, o, cfg).ok());
  ASSERT_FALSE(fs::exists(cfg + "/model.safetensors"));
  testing::WriteLines(dir.path() + "/t.jsonl", {R"({"input":"民法第1条","output":"a","meta":{"mode":"direct"}})",
                                                R"({"input":"会社法の目的","output":"b","meta":{"mode":"direct"}})"});
  auto run = [&](const std::string& model, std::vector<std::string> extra) {
    std::vector<std::string> args = {"--model-name", model, "--train-file", dir.path() + "/t.jsonl", "--output-dir",
                                     dir.path() + "/out-" + std::to_string(extra.size()), "--max-steps-override", "3",
                                     "--use-4bit", "--logging-steps", "1", "--learning-rate", "1e-2"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = testing::Train(args);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->train_loss : -1.0;
  };
  const double from_disk = run(full, {});
  const double in_memory = run(cfg, {"--random-base-seed", "9"});
  EXPECT_GT(from_disk, 0.0);
  EXPECT_EQ(from_disk, in_memory);
  // Without the flag a config-only directory is an error that names what is missing.
  auto r = testing::Train({"--model-name", cfg, "--train-file", dir.path() + "/t.jsonl", "--output-dir",
                           dir.path() + "/out-x", "--max-steps-override", "1"});
  EXPECT_FALSE(r.ok());
}

}  // namespace
}  // namespace ritsu::train
