// GPU-machine check of the CUDA trainer (not a ctest: CI has no GPU). Run by
// scripts/gpu/train-checks.sh; prints PASS/FAIL lines, exit 1 on a FAIL.
//   1. one LossAndGrad of a tiny random Qwen3 (Qwen2 too) on the CUDA device vs the CPU
//      device: loss and every LoRA gradient tensor, NF4 base, lora dropout 0.1.
//      fp32 compute on both sides: only summation orders differ (cuBLAS, flash tiles):
//      1e-4 x the tensor's max |g|. bf16 compute on both sides (the CPU twins round exactly
//      where the GPU does): a summation-order difference can flip a bf16 rounding of an
//      activation (2^-9 relative), so 1e-2 x the tensor's max (bf16 against fp32 differs by
//      2-3.5e-2 on these models: engine/train/tests/train_bf16_test.cc).
//   2. --max-gpu-memory far too small: a clear error naming the cap, no crash.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>

#include "engine/model/random_model.h"
#include "engine/model/safetensors.h"
#include "engine/train/lora_net.h"
#include "engine/train/train_data.h"

using namespace ritsu;
using namespace ritsu::train;

namespace {

int fails = 0;

void Report(bool ok, const std::string& what) {
  std::printf("%s %s\n", ok ? "PASS" : "FAIL", what.c_str());
  fails += !ok;
}

void CompareOneStep(engine::Arch arch, ComputeDtype compute, const std::string& dir) {
  engine::ModelConfig c = engine::PresetConfig(arch, "tiny").value();
  c.vocab_size = 4096;
  c.initializer_range = 0.2;
  engine::RandomModelOptions ro;
  ro.seed = 5;
  ro.dtype = engine::DType::kF32;
  ro.test_init = true;
  if (!engine::WriteRandomModel(c, ro, dir).ok()) return Report(false, "write model " + dir);
  auto ck = engine::Checkpoint::OpenDir(dir).value();
  engine::LoraConfig lora;
  lora.r = 8;
  lora.lora_alpha = 16;
  lora.lora_dropout = 0.1;
  for (auto m : engine::kAllLinearModules) lora.target_modules.push_back(engine::LinearModuleName(m));
  auto ad = engine::LoraAdapter::Init(c, lora, 1);
  std::mt19937 rng(2);
  std::normal_distribution<float> nd(0.0f, 0.1f);
  for (auto& [k, w] : ad.weights) for (float& x : w.b) x = nd(rng);
  auto cuda = MakeCudaTrainDevice(0, 0, compute);
  if (!cuda.ok()) return Report(false, "cuda device: " + cuda.status().ToString());
  auto cpu_net = LoraNet::Create(c, *ck, true, ad, MakeCpuTrainDevice(compute)).value();
  auto gpu_net = LoraNet::Create(c, *ck, true, ad, std::move(*cuda)).value();
  std::vector<TokenizedSample> samples;
  for (int s = 0; s < 3; ++s) {
    TokenizedSample t;
    for (int i = 0; i < 40 + 17 * s; ++i) t.ids.push_back(static_cast<int32_t>((i * 131 + s * 977) % c.vocab_size));
    t.prompt_len = 10;
    samples.push_back(t);
  }
  PackedBatch b = PackBatch({&samples[0], &samples[1], &samples[2]}, false);
  const float gs = 1.0f / static_cast<float>(b.n_labels());
  auto r1 = cpu_net->LossAndGrad(b, gs, 7, true);
  auto r2 = gpu_net->LossAndGrad(b, gs, 7, true);
  const std::string tag = std::string(arch == engine::Arch::kQwen3 ? "qwen3" : "qwen2") + "-" + ComputeDtypeName(compute);
  const double tol = compute == ComputeDtype::kFp32 ? 1e-4 : 1e-2;
  Report(std::abs(r1.loss_sum - r2.loss_sum) <= tol * std::abs(r1.loss_sum),
         tag + " one-step loss cpu " + std::to_string(r1.loss_sum) + " cuda " + std::to_string(r2.loss_sum));
  double worst = 0;
  for (size_t i = 0; i < cpu_net->params().size(); ++i) {
    for (int which = 0; which < 2; ++which) {
      auto g1 = cpu_net->Host(which ? cpu_net->params()[i].grad_b : cpu_net->params()[i].grad_a);
      auto g2 = gpu_net->Host(which ? gpu_net->params()[i].grad_b : gpu_net->params()[i].grad_a);
      double mx = 0, d = 0;
      for (size_t j = 0; j < g1.size(); ++j) {
        mx = std::max(mx, static_cast<double>(std::abs(g1[j])));
        d = std::max(d, static_cast<double>(std::abs(g1[j] - g2[j])));
      }
      worst = std::max(worst, d / std::max(mx, 1e-30));
    }
  }
  char buf[128];
  std::snprintf(buf, sizeof buf, "%s one-step LoRA gradients cuda vs cpu: worst %.2e of tensor max (tol %.0e)",
                tag.c_str(), worst, tol);
  Report(worst <= tol, buf);
}

// The model of `dir` on a CUDA device capped at 16 KiB must be refused with the cap named (the
// tiny model needs about 1 MiB in bf16).
void CheckCap(const std::string& dir) {
  auto config = engine::LoadModelConfig(dir).value();
  auto ck = engine::Checkpoint::OpenDir(dir).value();
  engine::LoraConfig lora;
  lora.target_modules = {"q_proj", "v_proj"};
  auto ad = engine::LoraAdapter::Init(config, lora, 1);
  auto dev = MakeCudaTrainDevice(0, 16 << 10);
  if (!dev.ok()) return Report(false, "cuda device: " + dev.status().ToString());
  try {
    auto net = LoraNet::Create(config, *ck, false, ad, std::move(*dev));
    Report(false, "--max-gpu-memory 16 KiB was not enforced");
  } catch (const TrainOutOfMemory& e) {
    Report(std::string(e.what()).find("--max-gpu-memory") != std::string::npos,
           std::string("--max-gpu-memory 16 KiB refused: ") + e.what());
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string out = argc > 1 ? argv[1] : "/tmp/ritsu_train_gpu_check";
  std::filesystem::create_directories(out);
  for (ComputeDtype compute : {ComputeDtype::kFp32, ComputeDtype::kBf16}) {
    CompareOneStep(engine::Arch::kQwen3, compute, out + "/qwen3");
    CompareOneStep(engine::Arch::kQwen2, compute, out + "/qwen2");
  }
  CheckCap(out + "/qwen3");
  return fails ? 1 : 0;
}
