// Kernel benchmarks on a Qwen3-8B-shaped model (hidden 4096, intermediate 12288, 36 layers,
// 32 heads, 8 kv heads, head_dim 128, vocab 151936). Every figure is printed next to its
// floor, measured on the same GPU in the same run:
//   - memory-bound kernels (NF4 decode GEMV, decode attention, bf16 lm_head GEMV) against the
//     device-to-device copy bandwidth (cudaMemcpy D2D of 1 GiB; read + write bytes / time);
//   - matrix kernels (prefill GEMMs, flash attention) against the cuBLAS bf16 rate on an
//     8192^3 GEMM.
// Last, the attention backward at the LoRA trainer's layer shapes (Qwen3-8B and -0.6B), each
// backward kernel by name.
// Timings: median of 20 runs after 3 warm-ups, CUDA events on the default stream.
// Usage: kernels_bench [--layers N] [--prefill-tokens N]
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "kernels/attention/attention.h"
#include "kernels/attention/flash_bwd_select.h"
#include "kernels/matmul/matmul.h"
#include "kernels/nf4/nf4.h"
#include "kernels/nf4/nf4_gemv_variants.h"
#include "tests/gpu/gpu_util.h"

namespace {

using ritsu::bf16;
using ritsu::gpu_test::DeviceBuffer;
using ritsu::gpu_test::time_ms;
namespace kg = ritsu::kernels::cuda;
namespace kn = ritsu::kernels;

constexpr int64_t kHidden = 4096, kInter = 12288, kHeads = 32, kKvHeads = 8, kHeadDim = 128;
constexpr int64_t kVocab = 151936;

struct Shape {
  const char* name;
  int64_t rows, cols;  // W is [rows, cols] = [out_features, in_features]
};
const Shape kLayerShapes[] = {{"q_proj", kHeads * kHeadDim, kHidden},   {"k_proj", kKvHeads * kHeadDim, kHidden},
                              {"v_proj", kKvHeads * kHeadDim, kHidden}, {"o_proj", kHidden, kHeads * kHeadDim},
                              {"gate_proj", kInter, kHidden},           {"up_proj", kInter, kHidden},
                              {"down_proj", kHidden, kInter}};

// One NF4 weight with random codes on the device (the values do not change the speed). The
// host bytes of each shape are drawn once and uploaded to every layer's distinct buffers.
struct Nf4Dev {
  DeviceBuffer<uint8_t> packed, absq;
  DeviceBuffer<float> scale;
  kn::Nf4Tensor t;
};

struct HostNf4 {
  std::vector<uint8_t> packed, absq;
  std::vector<float> scale;
};

const HostNf4& host_nf4(const Shape& s, std::mt19937_64& rng) {
  static std::map<std::pair<int64_t, int64_t>, HostNf4> cache;
  auto [it, fresh] = cache.try_emplace({s.rows, s.cols});
  if (fresh) {
    kn::Nf4Tensor t;
    t.rows = s.rows;
    t.cols = s.cols;
    HostNf4& h = it->second;
    h.packed.resize(t.packed_bytes());
    h.absq.resize(t.blocks());
    for (size_t i = 0; i + 8 <= h.packed.size(); i += 8) {
      const uint64_t r = rng();
      std::memcpy(&h.packed[i], &r, 8);
    }
    for (auto& b : h.absq) b = uint8_t(128 + rng() % 100);
    h.scale.assign(t.absmax_blocks(), 0.01f);
  }
  return it->second;
}

Nf4Dev make_nf4(const Shape& s, const float* d_code, std::mt19937_64& rng) {
  const HostNf4& h = host_nf4(s, rng);
  Nf4Dev w;
  w.t.rows = s.rows;
  w.t.cols = s.cols;
  w.packed = DeviceBuffer<uint8_t>(h.packed);
  w.absq = DeviceBuffer<uint8_t>(h.absq);
  w.scale = DeviceBuffer<float>(h.scale);
  w.t.packed = w.packed.get();
  w.t.absmax_q = w.absq.get();
  w.t.absmax_scale = w.scale.get();
  w.t.absmax_code = d_code;
  w.t.absmax_offset = 0.02f;
  return w;
}

double gbps(double bytes, double ms) { return bytes / (ms * 1e-3) / 1e9; }

// Median time of fn(stream) when its launches, repeated `inner` times, are captured once into
// a CUDA graph and replayed, divided by `inner`: the GPU time of the kernels without the
// host's per-launch cost (which is what a graph-captured decode step pays). fn runs once
// before the capture so first-call lookups (SM count, occupancy) stay out of it.
template <class F>
double graph_ms(F&& fn, int inner = 1, int reps = 20) {
  cudaStream_t st = nullptr;
  RITSU_CUDA_CHECK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
  fn(static_cast<void*>(st));
  RITSU_CUDA_CHECK(cudaStreamSynchronize(st));
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  RITSU_CUDA_CHECK(cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal));
  for (int i = 0; i < inner; ++i) fn(static_cast<void*>(st));
  RITSU_CUDA_CHECK(cudaStreamEndCapture(st, &graph));
  RITSU_CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
  cudaEvent_t a, b;
  RITSU_CUDA_CHECK(cudaEventCreate(&a));
  RITSU_CUDA_CHECK(cudaEventCreate(&b));
  for (int i = 0; i < 3; ++i) RITSU_CUDA_CHECK(cudaGraphLaunch(exec, st));
  std::vector<float> ms(reps);
  for (int i = 0; i < reps; ++i) {
    RITSU_CUDA_CHECK(cudaEventRecord(a, st));
    RITSU_CUDA_CHECK(cudaGraphLaunch(exec, st));
    RITSU_CUDA_CHECK(cudaEventRecord(b, st));
    RITSU_CUDA_CHECK(cudaEventSynchronize(b));
    RITSU_CUDA_CHECK(cudaEventElapsedTime(&ms[i], a, b));
  }
  RITSU_CUDA_CHECK(cudaEventDestroy(a));
  RITSU_CUDA_CHECK(cudaEventDestroy(b));
  RITSU_CUDA_CHECK(cudaGraphExecDestroy(exec));
  RITSU_CUDA_CHECK(cudaGraphDestroy(graph));
  RITSU_CUDA_CHECK(cudaStreamDestroy(st));
  std::sort(ms.begin(), ms.end());
  return ms[reps / 2] / inner;
}
double tflops(double flops, double ms) { return flops / (ms * 1e-3) / 1e12; }

}  // namespace

int main(int argc, char** argv) {
  int64_t layers = 36, prefill_tokens = 2048;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--layers") == 0 && i + 1 < argc) layers = std::atoll(argv[++i]);
    else if (std::strcmp(argv[i], "--prefill-tokens") == 0 && i + 1 < argc) prefill_tokens = std::atoll(argv[++i]);
    else {
      std::fprintf(stderr, "usage: %s [--layers N] [--prefill-tokens N]\n", argv[0]);
      return 2;
    }
  }
  if (layers < 1 || prefill_tokens < 1) {
    std::fprintf(stderr, "--layers and --prefill-tokens must be >= 1\n");
    return 2;
  }
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::printf("SKIP kernels_bench: no CUDA device visible\n");
    return 77;
  }
  cudaDeviceProp prop{};
  RITSU_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  std::printf("device: %s, %d SMs, %.1f GiB\n", prop.name, prop.multiProcessorCount,
              double(prop.totalGlobalMem) / double(1ull << 30));

  // ---- floors
  const size_t copy_bytes = size_t(1) << 30;
  DeviceBuffer<uint8_t> src(copy_bytes), dst(copy_bytes);
  const double copy_ms = time_ms([&] {
    RITSU_CUDA_CHECK(cudaMemcpyAsync(dst.get(), src.get(), copy_bytes, cudaMemcpyDeviceToDevice));
  });
  const double bw = gbps(2.0 * double(copy_bytes), copy_ms);
  std::printf("floor: device-to-device copy bandwidth %.0f GB/s (1 GiB, read+write)\n", bw);
  double peak = 0;
  {
    const int64_t n = 8192;
    DeviceBuffer<bf16> a(n * n), b(n * n), c(n * n);
    RITSU_CUDA_CHECK(cudaMemset(a.get(), 0x3c, n * n * 2));  // small finite values
    RITSU_CUDA_CHECK(cudaMemset(b.get(), 0x3c, n * n * 2));
    peak = tflops(2.0 * n * n * n, time_ms([&] {
      kg::gemm<bf16, bf16>(false, true, n, n, n, 1.0f, a.get(), n, b.get(), n, 0.0f, c.get(), n, nullptr);
    }));
    std::printf("floor: cuBLAS bf16 GEMM 8192^3 %.1f TFLOP/s\n", peak);
  }

  // ---- NF4 decode step over all layers
  std::mt19937_64 rng(7);
  std::vector<float> code(kn::nf4_absmax_code(), kn::nf4_absmax_code() + 256);
  DeviceBuffer<float> d_code(code);
  std::vector<Nf4Dev> weights;
  double weight_bytes = 0;
  for (int64_t l = 0; l < layers; ++l)
    for (const Shape& s : kLayerShapes) {
      weights.push_back(make_nf4(s, d_code.get(), rng));
      weight_bytes += double(weights.back().t.storage_bytes());
    }
  std::printf("\nNF4 decode step, %lld layers x 7 projections: %.2f GB of NF4 weights (codes + absmax)\n",
              (long long)layers, weight_bytes / 1e9);
  DeviceBuffer<bf16> x(8 * kInter), y(8 * kInter);
  RITSU_CUDA_CHECK(cudaMemset(x.get(), 0x3c, 8 * kInter * 2));
  for (int64_t batch : {1, 2, 4, 8}) {
    const double ms = time_ms([&] {
      for (auto& w : weights) kg::nf4_gemv<bf16>(w.t, x.get(), y.get(), batch, nullptr);
    }, 10);
    const double floor_ms = weight_bytes / (bw * 1e9) * 1e3;
    std::printf("  batch %lld: %.3f ms/step, %.0f GB/s = %.1f%% of copy bandwidth (floor %.3f ms)\n",
                (long long)batch, ms, gbps(weight_bytes, ms), 100.0 * floor_ms / ms, floor_ms);
    const double gms = graph_ms([&](ritsu::kernels::Stream st) {
      for (auto& w : weights) kg::nf4_gemv<bf16>(w.t, x.get(), y.get(), batch, st);
    });
    std::printf("  batch %lld as a CUDA graph: %.3f ms/step, %.0f GB/s = %.1f%% of copy bandwidth\n",
                (long long)batch, gms, gbps(weight_bytes, gms), 100.0 * floor_ms / gms);
  }
  // Launch-shape sweep of the bf16 tensor-core GEMV (variant 0 is what nf4_gemv uses at batch 2..8).
  for (int v = 0; v < kg::detail::nf4_gemv_bf16_variants(); ++v)
    for (int64_t batch : {1, 8}) {
      const double gms = graph_ms([&](ritsu::kernels::Stream st) {
        for (auto& w : weights) kg::detail::nf4_gemv_bf16_variant(v, w.t, x.get(), y.get(), batch, st);
      });
      const double floor_ms = weight_bytes / (bw * 1e9) * 1e3;
      std::printf("  variant %d (%s) batch %lld as a CUDA graph: %.3f ms/step = %.1f%% of copy bandwidth\n", v,
                  kg::detail::nf4_gemv_bf16_variant_name(v).c_str(), (long long)batch, gms, 100.0 * floor_ms / gms);
    }
  for (const Shape& s : kLayerShapes) {
    const Nf4Dev& w = weights[&s - kLayerShapes];
    const double ms = time_ms([&] { kg::nf4_gemv<bf16>(w.t, x.get(), y.get(), 1, nullptr); });
    const double gms = graph_ms([&](ritsu::kernels::Stream st) { kg::nf4_gemv<bf16>(w.t, x.get(), y.get(), 1, st); }, 20);
    std::printf("    %-9s [%5lld x %5lld] batch 1: %7.1f us, %5.0f GB/s | in a graph %6.1f us, %5.0f GB/s\n", s.name,
                (long long)s.rows, (long long)s.cols, ms * 1e3, gbps(double(w.t.storage_bytes()), ms), gms * 1e3,
                gbps(double(w.t.storage_bytes()), gms));
  }
  weights.clear();

  // ---- bf16 lm_head at decode (bitsandbytes keeps it bf16)
  {
    DeviceBuffer<bf16> head(kVocab * kHidden), logits(8 * kVocab);
    RITSU_CUDA_CHECK(cudaMemset(head.get(), 0x3c, size_t(kVocab) * kHidden * 2));
    const double bytes = double(kVocab) * kHidden * 2;
    for (int64_t batch : {1, 8}) {
      const double ms = time_ms([&] {
        kg::linear_fwd<bf16, bf16>(x.get(), head.get(), nullptr, logits.get(), batch, kVocab, kHidden, nullptr);
      });
      std::printf("\nlm_head bf16 [151936 x 4096] batch %lld: %.3f ms, %.0f GB/s = %.1f%% of copy bandwidth",
                  (long long)batch, ms, gbps(bytes, ms), 100.0 * gbps(bytes, ms) / bw);
    }
    std::printf("\n");
  }

  // ---- decode attention (split-K) per layer, 8B shape
  {
    const int64_t max_seq = 4096;
    for (int64_t batch : {1, 8})
      for (int64_t ctx : {1024, 4096}) {
        DeviceBuffer<bf16> kc(batch * max_seq * kKvHeads * kHeadDim), vc(kc.size()), q(batch * kHeads * kHeadDim),
            o(batch * kHeads * kHeadDim);
        RITSU_CUDA_CHECK(cudaMemset(kc.get(), 0x3c, kc.size() * 2));
        RITSU_CUDA_CHECK(cudaMemset(vc.get(), 0x3c, vc.size() * 2));
        RITSU_CUDA_CHECK(cudaMemset(q.get(), 0x3c, q.size() * 2));
        DeviceBuffer<int32_t> lens(std::vector<int32_t>(batch, int32_t(ctx)));
        DeviceBuffer<float> ws(kg::decode_attention_workspace_bytes(batch, kHeads, kHeadDim, max_seq) / 4 + 1);
        const double ms = time_ms([&] {
          kg::decode_attention_fwd_split<bf16>(q.get(), kc.get(), vc.get(), o.get(), nullptr, lens.get(), batch,
                                               kHeads, kKvHeads, kHeadDim, kHeads * kHeadDim, max_seq,
                                               0.088388f, ws.get(), nullptr);
        });
        const double gms = graph_ms([&](ritsu::kernels::Stream st) {
          kg::decode_attention_fwd_split<bf16>(q.get(), kc.get(), vc.get(), o.get(), nullptr, lens.get(), batch,
                                               kHeads, kKvHeads, kHeadDim, kHeads * kHeadDim, max_seq,
                                               0.088388f, ws.get(), st);
        }, 10);
        const double bytes = 2.0 * batch * ctx * kKvHeads * kHeadDim * 2;
        std::printf("decode attention batch %lld, context %lld: %.1f us/layer, %.0f GB/s = %.1f%% of copy bandwidth"
                    " | in a graph %.1f us/layer, %.0f GB/s = %.1f%%\n",
                    (long long)batch, (long long)ctx, ms * 1e3, gbps(bytes, ms), 100.0 * gbps(bytes, ms) / bw,
                    gms * 1e3, gbps(bytes, gms), 100.0 * gbps(bytes, gms) / bw);
      }
  }

  // ---- prefill GEMMs: NF4 dequantize into a bf16 tile + cuBLAS, and bf16 weights alone
  {
    const int64_t M = prefill_tokens;
    std::printf("\nprefill GEMMs, %lld tokens (cuBLAS bf16 peak above: %.1f TFLOP/s)\n", (long long)M, peak);
    DeviceBuffer<bf16> xin(M * kInter), yout(M * kInter), tile(kInter * kHidden);
    RITSU_CUDA_CHECK(cudaMemset(xin.get(), 0x3c, xin.size() * 2));
    double total_flops = 0, total_ms_dense = 0, total_ms_nf4 = 0;
    for (const Shape& s : kLayerShapes) {
      Nf4Dev w = make_nf4(s, d_code.get(), rng);
      DeviceBuffer<bf16> wd(s.rows * s.cols);
      RITSU_CUDA_CHECK(cudaMemset(wd.get(), 0x3c, wd.size() * 2));
      const double flops = 2.0 * M * s.rows * s.cols;
      const double ms_dense = time_ms([&] {
        kg::gemm<bf16, bf16>(false, true, M, s.rows, s.cols, 1.0f, xin.get(), s.cols, wd.get(), s.cols, 0.0f,
                             yout.get(), s.rows, nullptr);
      });
      const double ms_nf4 = time_ms([&] {
        kg::nf4_dequantize<bf16>(w.t, 0, s.rows, tile.get(), nullptr);
        kg::gemm<bf16, bf16>(false, true, M, s.rows, s.cols, 1.0f, xin.get(), s.cols, tile.get(), s.cols, 0.0f,
                             yout.get(), s.rows, nullptr);
      });
      total_flops += flops;
      total_ms_dense += ms_dense;
      total_ms_nf4 += ms_nf4;
      std::printf("  %-9s bf16 %6.1f TFLOP/s (%4.1f%% of peak) | NF4 dequant+GEMM %6.1f TFLOP/s (%4.1f%%)\n", s.name,
                  tflops(flops, ms_dense), 100.0 * tflops(flops, ms_dense) / peak, tflops(flops, ms_nf4),
                  100.0 * tflops(flops, ms_nf4) / peak);
    }
    std::printf("  all 7 per layer: bf16 %.1f TFLOP/s (%.1f%%), NF4 %.1f TFLOP/s (%.1f%% of the bf16 matrix rate)\n",
                tflops(total_flops, total_ms_dense), 100.0 * tflops(total_flops, total_ms_dense) / peak,
                tflops(total_flops, total_ms_nf4), 100.0 * tflops(total_flops, total_ms_nf4) / peak);
  }

  // ---- flash attention prefill, causal, varlen batch
  {
    for (int64_t len : {512, 2048}) {
      const int64_t batch = std::max<int64_t>(1, 8192 / len);
      std::vector<int32_t> cu(batch + 1);
      for (int64_t b = 0; b <= batch; ++b) cu[b] = int32_t(b * len);
      const int64_t total = batch * len;
      DeviceBuffer<bf16> q(total * kHeads * kHeadDim), k(total * kKvHeads * kHeadDim), v(k.size()), o(q.size());
      RITSU_CUDA_CHECK(cudaMemset(q.get(), 0x3c, q.size() * 2));
      RITSU_CUDA_CHECK(cudaMemset(k.get(), 0x3c, k.size() * 2));
      RITSU_CUDA_CHECK(cudaMemset(v.get(), 0x3c, v.size() * 2));
      DeviceBuffer<int32_t> dcu(cu);
      const double ms = time_ms([&] {
        kg::flash_attention_fwd<bf16>(q.get(), k.get(), v.get(), o.get(), nullptr, dcu.get(), dcu.get(), batch, len,
                                      kHeads, kKvHeads, kHeadDim, kHeads * kHeadDim, kKvHeads * kHeadDim, 0.088388f,
                                      nullptr);
      });
      // Causal: QK^T and PV over the L(L+1)/2 visible pairs, 2 FLOPs per multiply-add each.
      const double flops = 4.0 * kHeadDim * kHeads * batch * (double(len) * (len + 1) / 2);
      std::printf("flash attention prefill %lld x %lld tokens: %.3f ms, %.1f TFLOP/s (%.1f%% of the bf16 GEMM rate)\n",
                  (long long)batch, (long long)len, ms, tflops(flops, ms), 100.0 * tflops(flops, ms) / peak);
    }
    // The lawqa_jp retrieval batch: 140 prompts of 380..900 tokens (about 90k in all), uneven
    // lengths in one varlen launch as the engine's prefill issues them.
    {
      constexpr int64_t kPrompts = 140;
      std::vector<int32_t> cu = {0};
      double pairs = 0;
      int64_t max_len = 0;
      for (int64_t b = 0; b < kPrompts; ++b) {
        const int64_t len = 380 + (b * 149) % 521;  // deterministic spread over [380, 900]
        cu.push_back(cu.back() + int32_t(len));
        pairs += double(len) * (len + 1) / 2;
        max_len = std::max(max_len, len);
      }
      const int64_t total = cu.back();
      DeviceBuffer<bf16> q(total * kHeads * kHeadDim), k(total * kKvHeads * kHeadDim), v(k.size()), o(q.size());
      RITSU_CUDA_CHECK(cudaMemset(q.get(), 0x3c, q.size() * 2));
      RITSU_CUDA_CHECK(cudaMemset(k.get(), 0x3c, k.size() * 2));
      RITSU_CUDA_CHECK(cudaMemset(v.get(), 0x3c, v.size() * 2));
      DeviceBuffer<int32_t> dcu(cu);
      const double ms = time_ms([&] {
        kg::flash_attention_fwd<bf16>(q.get(), k.get(), v.get(), o.get(), nullptr, dcu.get(), dcu.get(), kPrompts,
                                      max_len, kHeads, kKvHeads, kHeadDim, kHeads * kHeadDim, kKvHeads * kHeadDim,
                                      0.088388f, nullptr);
      });
      const double flops = 4.0 * kHeadDim * kHeads * pairs;
      std::printf("flash attention prefill varlen %lld prompts, %lld tokens: %.3f ms/layer, %.1f TFLOP/s (%.1f%% of the bf16 GEMM rate)\n",
                  (long long)kPrompts, (long long)total, ms, tflops(flops, ms), 100.0 * tflops(flops, ms) / peak);
    }
  }

  // ---- flash attention backward at the LoRA trainer's layer shapes: 2 packed sequences of
  // 1024 tokens, q/k/v views into the fused qkv projection, each backward kernel by name
  // (kMma where the device allows 112 KiB per block, kMmaLowSmem on sm_86/sm_89's 99 KiB).
  {
    struct AttnShape {
      const char* name;
      int64_t heads, kv_heads;
    };
    const AttnShape shapes[] = {{"Qwen3-8B", kHeads, kKvHeads}, {"Qwen3-0.6B", 16, 8}};
    using K = kg::FlashBwdKernel;
    const std::pair<K, const char*> kernels[] = {
        {K::kMma, "mma"}, {K::kMmaLowSmem, "mma-lowsmem"}, {K::kSimple, "simple"}};
    constexpr int64_t kBatch = 2, kLen = 1024, kTokens = kBatch * kLen;
    const std::vector<int32_t> cu = {0, int32_t(kLen), int32_t(kTokens)};
    DeviceBuffer<int32_t> dcu(cu);
    std::mt19937_64 arng(11);
    for (const AttnShape& a : shapes) {
      const int64_t hd = kHeadDim, stride = (a.heads + 2 * a.kv_heads) * hd;
      DeviceBuffer<bf16> qkv(ritsu::gpu_test::random_vec<bf16>(arng, kTokens * stride, -2, 2)),
          out(kTokens * a.heads * hd), g(ritsu::gpu_test::random_vec<bf16>(arng, kTokens * a.heads * hd)),
          dq(kTokens * a.heads * hd);
      DeviceBuffer<float> lse(a.heads * kTokens), dk(kTokens * a.kv_heads * hd), dv(dk.size());
      const bf16 *q = qkv.get(), *k = q + a.heads * hd, *v = k + a.kv_heads * hd;
      const float scale = 0.088388f;
      auto fwd = [&] {
        kg::flash_attention_fwd<bf16>(q, k, v, out.get(), lse.get(), dcu.get(), dcu.get(), kBatch, kLen, a.heads,
                                      a.kv_heads, hd, stride, stride, scale, nullptr);
      };
      fwd();
      // Causal pairs per sequence L(L+1)/2; forward 4 FLOPs per pair and head_dim element,
      // backward 2.5x that (five products against two).
      const double fwd_flops = 4.0 * hd * a.heads * kBatch * (double(kLen) * (kLen + 1) / 2);
      const double fms = time_ms(fwd);
      std::printf("\nflash attention, trainer layer %s (%lld q / %lld kv heads, head_dim %lld, %lld x %lld tokens)\n"
                  "  forward:               %8.3f ms, %6.1f TFLOP/s\n",
                  a.name, (long long)a.heads, (long long)a.kv_heads, (long long)hd, (long long)kBatch,
                  (long long)kLen, fms, tflops(fwd_flops, fms));
      for (const auto& [kernel, kname] : kernels) {
        const size_t need = kg::flash_bwd_smem_bytes(kernel, hd);
        int optin = 0;
        RITSU_CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, 0));
        if (need > size_t(optin)) {
          std::printf("  backward %-12s  not on this device (%zu KiB of shared memory per block, %d KiB allowed)\n",
                      kname, need / 1024, optin / 1024);
          continue;
        }
        const double ms = time_ms([&, kernel = kernel] {
          kg::flash_attention_bwd_with<bf16>(kernel, q, k, v, out.get(), lse.get(), g.get(), dq.get(), dk.get(),
                                             dv.get(), dcu.get(), dcu.get(), kBatch, kLen, a.heads, a.kv_heads, hd,
                                             stride, stride, scale, nullptr);
        });
        std::printf("  backward %-12s  %8.3f ms, %6.1f TFLOP/s (%zu KiB shared memory per block)\n", kname, ms,
                    tflops(2.5 * fwd_flops, ms), need / 1024);
      }
    }
  }
  return 0;
}
