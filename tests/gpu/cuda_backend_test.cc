// The CUDA backend end to end against the CPU backend: small random Qwen3 and Qwen2 models
// (head_dim 128 and 64, so attention takes the tensor-core path) loaded dense and NF4 on both
// backends, a batched prefill of three prompts of different lengths into different KV slots,
// then batched decode steps (teacher-forced with the CPU's greedy tokens so both see the same
// inputs), and once more on an NF4 base with a LoRA adapter on all seven projections.
// Prints PASS/FAIL per check; exit 0 all passed, 1 a failure, 77 no CUDA device.
//
// Tolerance: relative Frobenius error of the CUDA logits against the CPU (fp32) logits
// <= 3e-2. The weights are identical (bf16 checkpoint; NF4 quantization is bit-identical on
// both backends, checked in kernels_gpu_test); the difference is the CUDA backend's bf16
// activations: ~15 roundings of 2^-9 per layer feeding each other over 2 layers, about 1e-2
// in quadrature. A wrong kernel gives O(1).
#include <cuda_runtime_api.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/cuda/cuda_backend.h"
#include "engine/model/config.h"
#include "engine/model/lora_adapter.h"
#include "engine/model/model.h"
#include "engine/model/random_model.h"

namespace {

using namespace ritsu::engine;
using ritsu::Status;

int failures = 0, passes = 0;

void check(const std::string& name, double err, double tol) {
  const bool ok = std::isfinite(err) && err <= tol;
  std::printf("%s %-52s err=%.3e tol=%.1e\n", ok ? "PASS" : "FAIL", name.c_str(), err, tol);
  std::fflush(stdout);
  (ok ? passes : failures)++;
}

void fail(const std::string& name, const std::string& why) {
  std::printf("FAIL %s: %s\n", name.c_str(), why.c_str());
  ++failures;
}

double rel_error(const std::vector<float>& got, const std::vector<float>& want) {
  double num = 0, den = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(got[i])) return INFINITY;
    num += double(got[i] - want[i]) * double(got[i] - want[i]);
    den += double(want[i]) * double(want[i]);
  }
  return std::sqrt(num / den);
}

ModelConfig SmallConfig(Arch arch) {
  ModelConfig c = PresetConfig(arch, "tiny").value();
  c.hidden_size = 256;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = arch == Arch::kQwen3 ? 128 : 64;
  c.intermediate_size = 512;
  c.vocab_size = 1024;
  c.max_position_embeddings = 1024;
  c.rope_theta = 10000.0;
  c.initializer_range = 0.1;
  c.tie_word_embeddings = arch == Arch::kQwen2;
  c.eos_token_ids = {7};
  return c;
}

std::vector<float> Logits(Backend& b, const Tensor& t) {
  std::vector<float> out(static_cast<size_t>(t.numel()));
  b.Download(t, out.data());
  return out;
}

// A PEFT adapter on all seven projections with random A and B (PEFT's B = 0 would hide a
// broken LoraAdd).
Status WriteAdapter(const ModelConfig& config, const std::string& dir) {
  LoraConfig lc;
  lc.r = 8;
  lc.lora_alpha = 16;
  lc.target_modules = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
  LoraAdapter a = LoraAdapter::Init(config, lc, 5);
  uint64_t x = 99;
  for (auto& [key, w] : a.weights)
    for (float& b : w.b) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      b = (float((x >> 40) % 2001) / 1000.0f - 1.0f) * 0.05f;
    }
  return a.Save(dir);
}

void RunModel(Arch arch, bool nf4, const std::string& root, bool lora = false) {
  const std::string label = std::string(arch == Arch::kQwen3 ? "qwen3" : "qwen2") + (nf4 ? "/nf4" : "/bf16") +
                            (lora ? "+lora" : "");
  const ModelConfig config = SmallConfig(arch);
  const std::string dir = root + "/" + (arch == Arch::kQwen3 ? "qwen3" : "qwen2");
  if (!std::filesystem::exists(dir + "/config.json")) {
    RandomModelOptions o;
    o.seed = 42;
    o.test_init = true;
    Status st = WriteRandomModel(config, o, dir);
    if (!st.ok()) return fail(label, "writing the model: " + st.ToString());
  }
  auto cpu = MakeCpuBackend();
  auto gpu = MakeCudaBackend(0);
  if (!gpu.ok()) return fail(label, gpu.status().ToString());
  ModelLoadOptions opts;
  opts.load_in_4bit = nf4;
  if (lora) {
    opts.lora_dir = dir + "-lora";
    if (!std::filesystem::exists(opts.lora_dir + "/adapter_config.json")) {
      Status st = WriteAdapter(config, opts.lora_dir);
      if (!st.ok()) return fail(label, "writing the adapter: " + st.ToString());
    }
  }
  auto mc = Model::Load(dir, *cpu, opts);
  auto mg = Model::Load(dir, *gpu.value(), opts);
  if (!mc.ok() || !mg.ok()) return fail(label, "load: " + (mc.ok() ? mg.status() : mc.status()).ToString());
  KvCache cc = mc.value()->NewKvCache(3, 256), cg = mg.value()->NewKvCache(3, 256);

  // Prefill: three prompts in slots 2, 0, 1 with lengths 5, 70 and 130.
  const std::vector<int32_t> lens = {5, 70, 130}, slots = {2, 0, 1};
  StepLayout step;
  std::vector<int32_t> tokens;
  std::vector<int64_t> last_rows;
  uint64_t x = 12345;
  for (size_t i = 0; i < lens.size(); ++i) {
    step.segments.push_back({slots[i], 0, lens[i]});
    for (int32_t t = 0; t < lens[i]; ++t) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      tokens.push_back(int32_t((x >> 33) % uint64_t(config.vocab_size)));
    }
    last_rows.push_back(int64_t(tokens.size()) - 1);
  }
  step.Finalize();
  StepLayout step_g = step;
  auto lc = mc.value()->Forward(tokens, step, cc, last_rows);
  auto lg = mg.value()->Forward(tokens, step_g, cg, last_rows);
  if (!lc.ok() || !lg.ok()) return fail(label, "prefill: " + (lc.ok() ? lg.status() : lc.status()).ToString());
  std::vector<float> want = Logits(*cpu, lc.value()), got = Logits(*gpu.value(), lg.value());
  check(label + "/prefill logits", rel_error(got, want), 3e-2);

  // Decode: 4 batched steps, every sequence one token, fed the CPU's greedy choice.
  std::vector<int32_t> pos = lens;
  for (int stepi = 0; stepi < 4; ++stepi) {
    std::vector<SampleRequest> greedy(lens.size());
    std::vector<int32_t> next = cpu->Sample(lc.value(), greedy);
    std::vector<int32_t> next_g = gpu.value()->Sample(lg.value(), greedy);
    int agree = 0;
    for (size_t i = 0; i < next.size(); ++i) agree += next[i] == next_g[i];
    std::printf("     %s decode step %d: greedy tokens agree on %d of %zu rows\n", label.c_str(), stepi, agree,
                next.size());
    StepLayout d;
    std::vector<int64_t> rows;
    for (size_t i = 0; i < lens.size(); ++i) {
      d.segments.push_back({slots[i], pos[i], 1});
      rows.push_back(int64_t(i));
      ++pos[i];
    }
    d.Finalize();
    StepLayout d_g = d;
    lc = mc.value()->Forward(next, d, cc, rows);
    lg = mg.value()->Forward(next, d_g, cg, rows);
    if (!lc.ok() || !lg.ok()) return fail(label, "decode: " + (lc.ok() ? lg.status() : lc.status()).ToString());
    want = Logits(*cpu, lc.value());
    got = Logits(*gpu.value(), lg.value());
    check(label + "/decode step " + std::to_string(stepi) + " logits", rel_error(got, want), 3e-2);
  }
  std::printf("     %s peak GPU memory (arena): %.1f MiB\n", label.c_str(),
              double(gpu.value()->peak_memory_bytes()) / (1 << 20));
}

void MemoryCap(const std::string& root) {
  CudaBackendOptions o;
  o.max_memory_bytes = 1 << 20;  // 1 MiB: the embedding alone is 512 KiB, the layers more
  auto gpu = MakeCudaBackend(o);
  if (!gpu.ok()) return fail("memory cap", gpu.status().ToString());
  auto m = Model::Load(root + "/qwen3", *gpu.value(), {});
  if (m.ok()) return fail("memory cap", "a model larger than --max-gpu-memory 1 MiB loaded");
  const bool named = m.status().message().find("--max-gpu-memory") != std::string::npos;
  std::printf("     cap error: %s\n", m.status().message().c_str());
  check("memory cap refuses with a message naming --max-gpu-memory", named ? 0.0 : 1.0, 0.0);
}

}  // namespace

int main() {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::printf("SKIP cuda_backend_test: no CUDA device visible\n");
    return 77;
  }
  char tmpl[] = "/tmp/ritsu-cuda-backend-XXXXXX";
  const char* root = mkdtemp(tmpl);
  if (!root) {
    std::perror("mkdtemp");
    return 1;
  }
  for (Arch arch : {Arch::kQwen3, Arch::kQwen2})
    for (bool nf4 : {false, true}) RunModel(arch, nf4, root);
  RunModel(Arch::kQwen3, true, root, /*lora=*/true);  // QLoRA inference: NF4 base + adapter
  MemoryCap(root);
  std::filesystem::remove_all(root);
  std::printf("%s: %d passed, %d failed\n", failures ? "FAILED" : "ALL PASSED", passes, failures);
  return failures ? 1 : 0;
}
