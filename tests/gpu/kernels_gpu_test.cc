// GPU kernel registry: every kernels::cuda op against its kernels::cpu twin on the same random
// inputs (the CPU twin is itself checked against float64 loops in kernels_cpu_test). Each case
// prints one line "PASS|FAIL <case> err=<relative Frobenius error> tol=<tolerance>"; the exit
// status is 0 only if every case passed, 77 (ctest: skipped) when no CUDA device is present.
// Outputs are poisoned with NaN bytes before each kernel, and NaN never passes.
//
// Tolerances (relative Frobenius error, GPU vs CPU twin):
//   fp32 storage: 1e-5 -- both compute in fp32; only the summation order differs (warp
//     shuffles, cuBLAS blocking), worth a few ulp over the reduction lengths used here.
//   bf16 storage: 1e-2 -- both round outputs to bf16 (2^-9 relative per element); the GPU
//     also rounds intermediates the CPU keeps in fp32 (attention probabilities as bf16 for
//     the tensor cores, cuBLAS's bf16 output of partial products), so two roundings can
//     differ by one bf16 step on part of the elements: ~4e-3, with margin.
//   exact (0): embedding gather, KV cache writes, NF4 quantization (codes, absmax, offset),
//     NF4 dequantization, sampling (same token).
//
// Usage: kernels_gpu_test [--filter SUBSTRING] [--bench]
//   --bench also times every CUDA kernel on its test shape ("BENCH name us GB/s|TFLOP/s"; the
//   shapes are the tests', small for some ops: bench/kernels has the 8B-shaped figures).
#include <cuda_runtime_api.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <numeric>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/activation/activation.h"
#include "kernels/attention/attention.h"
#include "kernels/attention/flash_bwd_select.h"
#include "kernels/dropout/dropout.h"
#include "kernels/elementwise/elementwise.h"
#include "kernels/embedding/embedding.h"
#include "kernels/loss/loss.h"
#include "kernels/matmul/matmul.h"
#include "kernels/nf4/nf4.h"
#include "kernels/nf4/nf4_gemv_variants.h"
#include "kernels/norm/norm.h"
#include "kernels/optim/optim.h"
#include "kernels/rope/rope.h"
#include "kernels/sampling/sampling.h"
#include "tests/gpu/gpu_util.h"

namespace ritsu::gpu_test {
namespace {

namespace kc = ritsu::kernels::cpu;
namespace kg = ritsu::kernels::cuda;
using kernels::Stream;

constexpr double kTolF32 = 1e-5;
constexpr double kTolBf16 = 1e-2;

template <class T>
constexpr double tol() {
  return std::is_same_v<T, float> ? kTolF32 : kTolBf16;
}
template <class T>
const char* tname() {
  return std::is_same_v<T, float> ? "f32" : "bf16";
}

struct Report {
  int passed = 0, failed = 0;
  bool bench = false;  // --bench: also time each kernel on its test shape
  // Times fn (median of 20 after warm-up) and prints bytes/s or FLOP/s for the shape tested.
  template <class F>
  void time(const std::string& name, F&& fn, double bytes, double flops = 0) {
    if (!bench) return;
    const double ms = time_ms(fn);
    if (flops > 0) {
      std::printf("BENCH %-47s %9.1f us  %7.2f TFLOP/s\n", name.c_str(), ms * 1e3, flops / (ms * 1e-3) / 1e12);
    } else {
      std::printf("BENCH %-47s %9.1f us  %7.1f GB/s\n", name.c_str(), ms * 1e3, bytes / (ms * 1e-3) / 1e9);
    }
  }
  void check(const std::string& name, double err, double tolerance) {
    const bool ok = std::isfinite(err) && err <= tolerance;
    std::printf("%s %-48s err=%.3e tol=%.1e\n", ok ? "PASS" : "FAIL", name.c_str(), err, tolerance);
    std::fflush(stdout);
    (ok ? passed : failed)++;
  }
};

std::mt19937_64 rng_for(const std::string& name) {
  return std::mt19937_64(std::hash<std::string>{}(name));
}

// ------------------------------------------------------------------ cases

template <class T>
void embedding_case(Report& r) {
  const std::string name = std::string("embedding_fwd/") + tname<T>();
  auto rng = rng_for(name);
  const int64_t vocab = 1000, dim = 256, n = 77;
  auto table = random_vec<T>(rng, vocab * dim);
  std::vector<int32_t> ids(n);
  for (auto& id : ids) id = int32_t(rng() % vocab);
  ids[5] = -3;
  ids[9] = int32_t(vocab);  // out of range: zeros
  std::vector<T> want(n * dim);
  kc::embedding_fwd(table.data(), ids.data(), want.data(), n, dim, vocab, nullptr);
  DeviceBuffer<T> dt(table), dout(n * dim);
  DeviceBuffer<int32_t> did(ids);
  kg::embedding_fwd(dt.get(), did.get(), dout.get(), n, dim, vocab, nullptr);
  r.check(name, rel_error(dout.download(), want), 0.0);
}

template <class T>
void rms_norm_case(Report& r, int64_t rows, int64_t dim) {
  const std::string name = std::string("rms_norm_fwd/") + tname<T>() + "/dim" + std::to_string(dim);
  auto rng = rng_for(name);
  auto x = random_vec<T>(rng, rows * dim, -3, 3), w = random_vec<T>(rng, dim, 0.5, 1.5);
  std::vector<T> want(rows * dim);
  std::vector<float> rstd_want(rows);
  kc::rms_norm_fwd(x.data(), w.data(), want.data(), rstd_want.data(), rows, dim, 1e-6f, nullptr);
  DeviceBuffer<T> dx(x), dw(w), dy(rows * dim);
  DeviceBuffer<float> drstd(rows);
  kg::rms_norm_fwd(dx.get(), dw.get(), dy.get(), drstd.get(), rows, dim, 1e-6f, nullptr);
  r.check(name, rel_error(dy.download(), want), tol<T>());
  r.time(name, [&] { kg::rms_norm_fwd(dx.get(), dw.get(), dy.get(), drstd.get(), rows, dim, 1e-6f, nullptr); },
         2.0 * rows * dim * sizeof(T));
  r.check(name + "/rstd", rel_error(drstd.download(), rstd_want), kTolF32);
  // Backward from the same rstd.
  auto dyv = random_vec<T>(rng, rows * dim);
  std::vector<T> dx_want(rows * dim);
  std::vector<float> dw_want(dim, 0.0f);
  kc::rms_norm_bwd(x.data(), w.data(), rstd_want.data(), dyv.data(), dx_want.data(),
                   dw_want.data(), rows, dim, nullptr);
  DeviceBuffer<T> ddy(dyv), ddx(rows * dim);
  DeviceBuffer<float> ddw(std::vector<float>(dim, 0.0f));
  kg::rms_norm_bwd(dx.get(), dw.get(), drstd.get(), ddy.get(), ddx.get(), ddw.get(), rows, dim,
                   nullptr);
  const std::string bname = std::string("rms_norm_bwd/") + tname<T>() + "/dim" + std::to_string(dim);
  r.check(bname + "/dx", rel_error(ddx.download(), dx_want), tol<T>());
  // dweight sums over rows with atomics in any order: fp32 reassociation over `rows` terms.
  r.check(bname + "/dweight", rel_error(ddw.download(), dw_want), 1e-4);
}

template <class T>
void rope_case(Report& r) {
  const std::string name = std::string("rope/") + tname<T>();
  auto rng = rng_for(name);
  const int64_t n = 300, heads = 8, hd = 128, stride = 3 * heads * hd;  // a view into fused qkv
  auto x = random_vec<T>(rng, n * stride);
  std::vector<int32_t> pos(n);
  for (int64_t t = 0; t < n; ++t) pos[t] = int32_t(t < 150 ? t : (t - 150) * 200);  // up to 29800
  auto want = x;
  kc::rope_fwd(want.data(), pos.data(), n, heads, hd, stride, 1000000.0f, nullptr);
  DeviceBuffer<T> dx(x);
  DeviceBuffer<int32_t> dpos(pos);
  kg::rope_fwd(dx.get(), dpos.get(), n, heads, hd, stride, 1000000.0f, nullptr);
  r.check(name + "/fwd", rel_error(dx.download(), want), tol<T>());
  kc::rope_bwd(want.data(), pos.data(), n, heads, hd, stride, 1000000.0f, nullptr);
  kg::rope_bwd(dx.get(), dpos.get(), n, heads, hd, stride, 1000000.0f, nullptr);
  r.check(name + "/bwd", rel_error(dx.download(), want), tol<T>());
  r.time(name + "/fwd", [&] { kg::rope_fwd(dx.get(), dpos.get(), n, heads, hd, stride, 1000000.0f, nullptr); },
         2.0 * n * heads * hd * sizeof(T));  // after the checks: it rotates dx in place
}

struct AttnCase {
  std::vector<int32_t> lq, lk;
  int64_t heads, kv_heads, hd;
};

template <class T>
void flash_case(Report& r, const std::string& label, const AttnCase& c) {
  const std::string name = std::string("flash_attention_fwd/") + tname<T>() + "/" + label;
  auto rng = rng_for(name);
  std::vector<int32_t> cu_q = {0}, cu_k = {0};
  for (size_t b = 0; b < c.lq.size(); ++b) {
    cu_q.push_back(cu_q.back() + c.lq[b]);
    cu_k.push_back(cu_k.back() + c.lk[b]);
  }
  const int64_t batch = int64_t(c.lq.size()), tq = cu_q.back(), tk = cu_k.back();
  // q, k, v as views into one fused [tokens, (heads + 2*kv_heads) * hd] projection when
  // lq == lk (the model's layout); separate buffers otherwise.
  const int64_t q_stride = c.heads * c.hd, kv_stride = c.kv_heads * c.hd;
  auto q = random_vec<T>(rng, tq * q_stride, -2, 2);
  auto k = random_vec<T>(rng, tk * kv_stride, -2, 2);
  auto v = random_vec<T>(rng, tk * kv_stride);
  const float scale = 1.0f / std::sqrt(float(c.hd));
  const int64_t max_lq = *std::max_element(c.lq.begin(), c.lq.end());
  std::vector<T> want(tq * c.heads * c.hd);
  std::vector<float> lse_want(c.heads * tq);
  kc::flash_attention_fwd(q.data(), k.data(), v.data(), want.data(), lse_want.data(), cu_q.data(),
                          cu_k.data(), batch, max_lq, c.heads, c.kv_heads, c.hd, q_stride,
                          kv_stride, scale, nullptr);
  DeviceBuffer<T> dq(q), dk(k), dv(v), dout(want.size());
  DeviceBuffer<float> dlse(lse_want.size());
  DeviceBuffer<int32_t> dcq(cu_q), dck(cu_k);
  kg::flash_attention_fwd(dq.get(), dk.get(), dv.get(), dout.get(), dlse.get(), dcq.get(),
                          dck.get(), batch, max_lq, c.heads, c.kv_heads, c.hd, q_stride,
                          kv_stride, scale, nullptr);
  r.check(name, rel_error(dout.download(), want), tol<T>());
  double pairs = 0;  // visible (query, key) pairs: the causal FLOP count
  for (size_t b = 0; b < c.lq.size(); ++b)
    for (int64_t i = 0; i < c.lq[b]; ++i) pairs += double(std::clamp<int64_t>(i + c.lk[b] - c.lq[b] + 1, 0, c.lk[b]));
  r.time(name, [&] {
    kg::flash_attention_fwd(dq.get(), dk.get(), dv.get(), dout.get(), dlse.get(), dcq.get(), dck.get(), batch, max_lq,
                            c.heads, c.kv_heads, c.hd, q_stride, kv_stride, scale, nullptr);
  }, 0, 4.0 * pairs * c.heads * c.hd);
  // lse is fp32 on both sides, but the GPU's scores come from bf16 tensor-core products.
  r.check(name + "/lse", rel_error(dlse.download(), lse_want), std::is_same_v<T, float> ? kTolF32 : 1e-3);
}

// Whether this device lets a block of the backward kernel k (at head_dim hd) have its shared
// memory; prints a SKIP line when not (kMma at head_dim 128 on sm_86/sm_89), so that the checks
// still run every variant the device can.
bool bwd_kernel_fits(kg::FlashBwdKernel k, int64_t hd, const std::string& name) {
  int device = 0, optin = 0;
  RITSU_CUDA_CHECK(cudaGetDevice(&device));
  RITSU_CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  const size_t need = kg::flash_bwd_smem_bytes(k, hd);
  if (need <= size_t(optin)) return true;
  std::printf("SKIP %-48s needs %zu bytes of shared memory per block, the device allows %d\n", name.c_str(), need,
              optin);
  return false;
}

// Visible (query, key) pairs of a causal varlen batch (bottom-right aligned): the FLOP count.
double causal_pairs(const AttnCase& c) {
  double pairs = 0;
  for (size_t b = 0; b < c.lq.size(); ++b)
    for (int64_t i = 0; i < c.lq[b]; ++i) pairs += double(std::clamp<int64_t>(i + c.lk[b] - c.lq[b] + 1, 0, c.lk[b]));
  return pairs;
}

// Backward against the CPU twin, from the CPU forward's out and lse. fused: q, k, v are views
// into one [tokens, (heads + 2 kv_heads) * hd] buffer (the model's qkv projection; lq == lk).
//
// Tolerances: fp32 as everywhere (dk/dv 1e-4: fp32 atomics in any order). bf16 with head_dim
// 64/128 (the tensor-core kernel): 1e-2 on dq, dk and dv. Inputs are bf16 on both sides and
// every product is accumulated in fp32, but the GPU rounds P and dS to bf16 for the tensor
// cores (2^-9 relative per element, the same rounding the bf16 forward applies to P, whose
// tolerance is also 1e-2) where the twin keeps them in fp32; dq is also rounded to bf16 on both
// sides. Measured on an H100: dq 2.6e-3..2.7e-3, dk/dv 1.6e-3..1.7e-3. Other bf16 head sizes
// take the exact simple kernel: dk/dv 1e-4 as for fp32.
//
// bf16 head_dim 64/128 runs each tensor-core variant by name (kMma, and kMmaLowSmem, the one
// sm_86/sm_89 get at head_dim 128; which one a device gets is flash_bwd_select_test's), each
// into freshly poisoned outputs, and checks that the two agree with each other far more
// closely than with the twin: they differ only by the order of fp32 atomic additions (dq then
// rounds to bf16, so a few elements can differ by one bf16 step: 1e-3; dk/dv stay fp32: 1e-5).
// Other cases go through flash_attention_bwd (kAuto: the simple kernel).
template <class T>
void flash_bwd_case(Report& r, const std::string& label, const AttnCase& c, bool fused = false) {
  const std::string name = std::string("flash_attention_bwd/") + tname<T>() + "/" + label;
  auto rng = rng_for(name);
  std::vector<int32_t> cu_q = {0}, cu_k = {0};
  for (size_t b = 0; b < c.lq.size(); ++b) {
    cu_q.push_back(cu_q.back() + c.lq[b]);
    cu_k.push_back(cu_k.back() + c.lk[b]);
  }
  const int64_t batch = int64_t(c.lq.size()), tq = cu_q.back(), tk = cu_k.back();
  const int64_t heads = c.heads, kvh = c.kv_heads, hd = c.hd;
  const int64_t max_lq = *std::max_element(c.lq.begin(), c.lq.end());
  const float scale = 1.0f / std::sqrt(float(hd));
  // Host q/k/v: one buffer; q at 0, k at k_off, v at v_off with the strides below.
  int64_t qs = heads * hd, ks = kvh * hd, k_off = tq * qs, v_off = k_off + tk * ks;
  std::vector<T> qkv;
  if (fused) {
    qs = ks = (heads + 2 * kvh) * hd;
    k_off = heads * hd;
    v_off = (heads + kvh) * hd;
    qkv = random_vec<T>(rng, tq * qs, -2, 2);
  } else {
    qkv = random_vec<T>(rng, tq * qs + 2 * tk * ks, -2, 2);
  }
  auto g = random_vec<T>(rng, tq * heads * hd);
  std::vector<T> out(tq * heads * hd), dq_want(tq * heads * hd);
  std::vector<float> lse(heads * tq), dk_want(tk * kvh * hd), dv_want(tk * kvh * hd);
  const T* hq = qkv.data();
  kc::flash_attention_fwd(hq, hq + k_off, hq + v_off, out.data(), lse.data(), cu_q.data(), cu_k.data(), batch,
                          max_lq, heads, kvh, hd, qs, ks, scale, nullptr);
  kc::flash_attention_bwd(hq, hq + k_off, hq + v_off, out.data(), lse.data(), g.data(), dq_want.data(),
                          dk_want.data(), dv_want.data(), cu_q.data(), cu_k.data(), batch, max_lq, heads, kvh, hd,
                          qs, ks, scale, nullptr);
  DeviceBuffer<T> dqkv(qkv), dout(out), dg(g), ddq(dq_want.size());
  DeviceBuffer<float> dlse(lse), ddk(dk_want.size()), ddv(dv_want.size());
  DeviceBuffer<int32_t> dcq(cu_q), dck(cu_k);
  const T* dq = dqkv.get();
  const bool mma = std::is_same_v<T, bf16> && (hd == 64 || hd == 128);
  using K = kg::FlashBwdKernel;
  const std::vector<std::pair<K, std::string>> variants =
      mma ? std::vector<std::pair<K, std::string>>{{K::kMma, "/mma"}, {K::kMmaLowSmem, "/mma-lowsmem"}}
          : std::vector<std::pair<K, std::string>>{{K::kAuto, ""}};
  std::vector<T> first_dq;  // outputs of the first variant run, and its name
  std::vector<float> first_dk, first_dv;
  std::string first;
  for (const auto& [kernel, suffix] : variants) {
    const std::string vname = name + suffix;
    if (!bwd_kernel_fits(kernel, hd, vname)) continue;
    auto run = [&, kernel = kernel] {
      kg::flash_attention_bwd_with(kernel, dq, dq + k_off, dq + v_off, dout.get(), dlse.get(), dg.get(), ddq.get(),
                                   ddk.get(), ddv.get(), dcq.get(), dck.get(), batch, max_lq, heads, kvh, hd, qs, ks,
                                   scale, nullptr);
    };
    ddq.poison();
    ddk.poison();
    ddv.poison();
    run();
    const auto got_dq = ddq.download();
    const auto got_dk = ddk.download();
    const auto got_dv = ddv.download();
    r.check(vname + "/dq", rel_error(got_dq, dq_want), tol<T>());
    r.check(vname + "/dk", rel_error(got_dk, dk_want), mma ? kTolBf16 : 1e-4);
    r.check(vname + "/dv", rel_error(got_dv, dv_want), mma ? kTolBf16 : 1e-4);
    if (first_dq.empty()) {
      first_dq = got_dq;
      first_dk = got_dk;
      first_dv = got_dv;
      first = suffix;
    } else {
      r.check(vname + "/dq-vs" + first, rel_error(got_dq, first_dq), 1e-3);
      r.check(vname + "/dk-vs" + first, rel_error(got_dk, first_dk), 1e-5);
      r.check(vname + "/dv-vs" + first, rel_error(got_dv, first_dv), 1e-5);
    }
    // Backward FLOPs: 2.5x the forward's 4 * pairs * heads * hd (five matrix products of
    // 2 * pairs * hd per head against the forward's two).
    r.time(vname, run, 0, 10.0 * causal_pairs(c) * heads * hd);
  }
}

// Timing only (--bench), at the LoRA trainer's shape: the forward and the backward of one layer
// of Qwen3-8B (32 heads, 8 kv heads, head_dim 128) on 2 packed sequences of 1024 tokens, q/k/v
// views into the fused qkv projection. Inputs from the GPU forward; correctness of this path is
// covered by the cases above (hd128-2x1024 has the same sequence lengths).
void flash_train_bench(Report& r) {
  if (!r.bench) return;
  const AttnCase c{{1024, 1024}, {1024, 1024}, 32, 8, 128};
  const std::string label = "train-2x1024-h32-kv8-hd128";
  auto rng = rng_for(label);
  const std::vector<int32_t> cu = {0, 1024, 2048};
  const int64_t t = 2048, heads = c.heads, kvh = c.kv_heads, hd = c.hd, stride = (heads + 2 * kvh) * hd;
  const float scale = 1.0f / std::sqrt(float(hd));
  DeviceBuffer<bf16> qkv(random_vec<bf16>(rng, t * stride, -2, 2)), out(t * heads * hd),
      g(random_vec<bf16>(rng, t * heads * hd)), dq(t * heads * hd);
  DeviceBuffer<float> lse(heads * t), dk(t * kvh * hd), dv(t * kvh * hd);
  DeviceBuffer<int32_t> dcu(cu);
  const bf16 *q = qkv.get(), *k = q + heads * hd, *v = k + kvh * hd;
  auto fwd = [&] {
    kg::flash_attention_fwd(q, k, v, out.get(), lse.get(), dcu.get(), dcu.get(), 2, 1024, heads, kvh, hd, stride,
                            stride, scale, nullptr);
  };
  fwd();
  const double pairs = causal_pairs(c);
  r.time("flash_attention_fwd/bf16/" + label, fwd, 0, 4.0 * pairs * heads * hd);
  using K = kg::FlashBwdKernel;
  for (const auto& [kernel, suffix] : {std::pair{K::kMma, "/mma"}, std::pair{K::kMmaLowSmem, "/mma-lowsmem"},
                                       std::pair{K::kSimple, "/simple"}}) {
    if (!bwd_kernel_fits(kernel, hd, label + suffix)) continue;
    r.time("flash_attention_bwd/bf16/" + label + suffix, [&, kernel = kernel] {
      kg::flash_attention_bwd_with(kernel, q, k, v, out.get(), lse.get(), g.get(), dq.get(), dk.get(), dv.get(),
                                   dcu.get(), dcu.get(), 2, 1024, heads, kvh, hd, stride, stride, scale, nullptr);
    }, 0, 10.0 * pairs * heads * hd);
  }
}

template <class T>
void decode_case(Report& r) {
  const std::string name = std::string("decode_attention/") + tname<T>();
  auto rng = rng_for(name);
  const int64_t heads = 32, kvh = 8, hd = 128, max_seq = 4096, slots = 6;
  const std::vector<int32_t> lens = {1, 255, 256, 257, 1000, 3000};
  const std::vector<int32_t> slot_of = {3, 0, 5, 1, 4, 2};
  const int64_t batch = int64_t(lens.size()), row = kvh * hd;
  // Fill every slot's cache through kv_cache_write (tokens of all rows, one call).
  std::vector<int32_t> tok_slot, tok_pos;
  for (int64_t b = 0; b < batch; ++b)
    for (int32_t p = 0; p < lens[b]; ++p) {
      tok_slot.push_back(slot_of[b]);
      tok_pos.push_back(p);
    }
  const int64_t total = int64_t(tok_pos.size());
  auto k = random_vec<T>(rng, total * row), v = random_vec<T>(rng, total * row);
  auto q = random_vec<T>(rng, batch * heads * hd, -2, 2);
  std::vector<T> kc_want(slots * max_seq * row, from_float<T>(0.0f)), vc_want = kc_want;
  kc::kv_cache_write(k.data(), v.data(), row, kc_want.data(), vc_want.data(), tok_slot.data(),
                     tok_pos.data(), total, kvh, hd, max_seq, nullptr);
  DeviceBuffer<T> dk(k), dv(v), dkc(kc_want.size()), dvc(vc_want.size()), dq(q);
  RITSU_CUDA_CHECK(cudaMemset(dkc.get(), 0, dkc.size() * sizeof(T)));
  RITSU_CUDA_CHECK(cudaMemset(dvc.get(), 0, dvc.size() * sizeof(T)));
  DeviceBuffer<int32_t> dts(tok_slot), dtp(tok_pos), dlens(lens), dslots(slot_of);
  kg::kv_cache_write(dk.get(), dv.get(), row, dkc.get(), dvc.get(), dts.get(), dtp.get(), total,
                     kvh, hd, max_seq, nullptr);
  r.check(std::string("kv_cache_write/") + tname<T>(),
          std::max(rel_error(dkc.download(), kc_want), rel_error(dvc.download(), vc_want)), 0.0);
  const float scale = 1.0f / std::sqrt(float(hd));
  std::vector<T> want(batch * heads * hd);
  kc::decode_attention_fwd(q.data(), kc_want.data(), vc_want.data(), want.data(), slot_of.data(),
                           lens.data(), batch, heads, kvh, hd, heads * hd, max_seq, scale, nullptr);
  DeviceBuffer<T> dout(want.size());
  kg::decode_attention_fwd(dq.get(), dkc.get(), dvc.get(), dout.get(), dslots.get(), dlens.get(),
                           batch, heads, kvh, hd, heads * hd, max_seq, scale, nullptr);
  r.check(name + "/single", rel_error(dout.download(), want), tol<T>());
  DeviceBuffer<float> work(kg::decode_attention_workspace_bytes(batch, heads, hd, max_seq) / sizeof(float));
  dout.poison();
  kg::decode_attention_fwd_split(dq.get(), dkc.get(), dvc.get(), dout.get(), dslots.get(),
                                 dlens.get(), batch, heads, kvh, hd, heads * hd, max_seq, scale,
                                 work.get(), nullptr);
  r.check(name + "/split", rel_error(dout.download(), want), tol<T>());
  double kv_bytes = 0;
  for (int32_t l : lens) kv_bytes += 2.0 * l * row * sizeof(T);
  r.time(name + "/split", [&] {
    kg::decode_attention_fwd_split(dq.get(), dkc.get(), dvc.get(), dout.get(), dslots.get(), dlens.get(), batch, heads,
                                   kvh, hd, heads * hd, max_seq, scale, work.get(), nullptr);
  }, kv_bytes);
}

template <class T>
void swiglu_case(Report& r) {
  const std::string name = std::string("swiglu/") + tname<T>();
  auto rng = rng_for(name);
  const int64_t rows = 64, dim = 1536;
  auto gu = random_vec<T>(rng, rows * 2 * dim, -4, 4);  // fused [rows, 2*dim]
  std::vector<T> want(rows * dim);
  kc::swiglu_fwd(gu.data(), gu.data() + dim, want.data(), rows, dim, 2 * dim, dim, nullptr);
  DeviceBuffer<T> dgu(gu), dout(rows * dim);
  kg::swiglu_fwd(dgu.get(), dgu.get() + dim, dout.get(), rows, dim, 2 * dim, dim, nullptr);
  r.check(name + "/fwd", rel_error(dout.download(), want), tol<T>());
  r.time(name + "/fwd", [&] {
    kg::swiglu_fwd(dgu.get(), dgu.get() + dim, dout.get(), rows, dim, 2 * dim, dim, nullptr);
  }, 3.0 * rows * dim * sizeof(T));
  auto d = random_vec<T>(rng, rows * dim);
  std::vector<T> dgu_want(rows * 2 * dim);
  kc::swiglu_bwd(gu.data(), gu.data() + dim, d.data(), dgu_want.data(), dgu_want.data() + dim,
                 rows, dim, 2 * dim, dim, nullptr);
  DeviceBuffer<T> dd(d), ddgu(rows * 2 * dim);
  kg::swiglu_bwd(dgu.get(), dgu.get() + dim, dd.get(), ddgu.get(), ddgu.get() + dim, rows, dim,
                 2 * dim, dim, nullptr);
  r.check(name + "/bwd", rel_error(ddgu.download(), dgu_want), tol<T>());
}

template <class T>
void elementwise_case(Report& r) {
  const std::string name = std::string("elementwise/") + tname<T>();
  auto rng = rng_for(name);
  const int64_t rows = 33, dim = 1000, ld = 1024, n = rows * ld;
  auto a = random_vec<T>(rng, n), b = random_vec<T>(rng, n), bias = random_vec<T>(rng, dim);
  std::vector<T> want(n);
  kc::add(a.data(), b.data(), want.data(), n, nullptr);
  DeviceBuffer<T> da(a), db(b), dbias(bias), dout(n);
  kg::add(da.get(), db.get(), dout.get(), n, nullptr);
  r.check(name + "/add", rel_error(dout.download(), want), tol<T>());
  kc::add_bias(a.data(), bias.data(), rows, dim, ld, nullptr);
  kg::add_bias(da.get(), dbias.get(), rows, dim, ld, nullptr);
  r.check(name + "/add_bias", rel_error(da.download(), a), tol<T>());
  kc::axpy(b.data(), a.data(), 0.3f, n, nullptr);
  kg::axpy(db.get(), da.get(), 0.3f, n, nullptr);
  r.check(name + "/axpy", rel_error(da.download(), a), tol<T>());
}

void cast_case(Report& r) {
  auto rng = rng_for("cast");
  const int64_t n = 100000;
  auto x = random_vec<float>(rng, n, -1000, 1000);
  std::vector<bf16> want(n);
  kc::cast(x.data(), want.data(), n, nullptr);
  DeviceBuffer<float> dx(x);
  DeviceBuffer<bf16> dy(n);
  kg::cast(dx.get(), dy.get(), n, nullptr);
  auto got = dy.download();
  int64_t bit_mismatch = 0;
  for (int64_t i = 0; i < n; ++i) bit_mismatch += got[i].bits != want[i].bits;
  r.check("cast/f32->bf16 (bit mismatches)", double(bit_mismatch), 0.0);
  std::vector<f16> h(n);
  for (int64_t i = 0; i < n; ++i) h[i] = f16(x[i] / 100.0f);
  std::vector<float> hw(n);
  kc::cast(h.data(), hw.data(), n, nullptr);
  DeviceBuffer<f16> dh(h);
  DeviceBuffer<float> dhf(n);
  kg::cast(dh.get(), dhf.get(), n, nullptr);
  r.check("cast/f16->f32", rel_error(dhf.download(), hw), 0.0);
}

template <class T>
void nf4_case(Report& r, int64_t rows, int64_t cols) {
  const std::string name = std::string("nf4/") + tname<T>() + "/" + std::to_string(rows) + "x" + std::to_string(cols);
  auto rng = rng_for(name);
  std::vector<T> w(rows * cols);
  for (int64_t i = 0; i < rows; ++i) {
    const double s = 0.02 * (1 + i % 5);
    auto row = random_vec<T>(rng, cols, -s, s);
    std::copy(row.begin(), row.end(), w.begin() + i * cols);
  }
  kernels::Nf4Tensor ct;
  ct.rows = rows;
  ct.cols = cols;
  std::vector<uint8_t> packed(ct.packed_bytes()), absq(ct.blocks());
  std::vector<float> scale(ct.absmax_blocks()), work(ct.blocks());
  ct.packed = packed.data();
  ct.absmax_q = absq.data();
  ct.absmax_scale = scale.data();
  ct.absmax_code = kernels::nf4_absmax_code();
  kc::nf4_quantize(w.data(), &ct, work.data(), nullptr);

  DeviceBuffer<T> dw(w);
  DeviceBuffer<uint8_t> dpacked(packed.size()), dabsq(absq.size());
  DeviceBuffer<float> dscale(scale.size()), dwork(work.size());
  DeviceBuffer<float> dcode(std::vector<float>(kernels::nf4_absmax_code(), kernels::nf4_absmax_code() + 256));
  kernels::Nf4Tensor gt = ct;
  gt.packed = dpacked.get();
  gt.absmax_q = dabsq.get();
  gt.absmax_scale = dscale.get();
  gt.absmax_code = dcode.get();
  gt.absmax_offset = NAN;
  kg::nf4_quantize(dw.get(), &gt, dwork.get(), nullptr);
  int64_t mism = 0;
  auto gp = dpacked.download();
  for (size_t i = 0; i < gp.size(); ++i) mism += gp[i] != packed[i];
  auto ga = dabsq.download();
  for (size_t i = 0; i < ga.size(); ++i) mism += ga[i] != absq[i];
  mism += gt.absmax_offset != ct.absmax_offset;
  r.check(name + "/quantize (mismatched bytes)", double(mism), 0.0);
  r.check(name + "/quantize absmax_scale", rel_error(dscale.download(), scale), 0.0);

  const int64_t r0 = rows / 4, nr = rows - r0;
  std::vector<T> deq_want(nr * cols);
  kc::nf4_dequantize(ct, r0, nr, deq_want.data(), nullptr);
  DeviceBuffer<T> ddeq(nr * cols);
  kg::nf4_dequantize(gt, r0, nr, ddeq.get(), nullptr);
  r.check(name + "/dequantize", rel_error(ddeq.download(), deq_want), 0.0);
  r.time(name + "/dequantize", [&] { kg::nf4_dequantize(gt, r0, nr, ddeq.get(), nullptr); },
         double(nr * cols) * (sizeof(T) + 0.5));

  if (cols % kernels::kNf4BlockSize != 0) return;  // the GEMV needs whole 64-blocks per row
  for (int64_t batch = 1; batch <= 8; ++batch) {
    auto x = random_vec<T>(rng, batch * cols);
    std::vector<T> y_want(batch * rows);
    kc::nf4_gemv(ct, x.data(), y_want.data(), batch, nullptr);
    DeviceBuffer<T> dx(x), dy(batch * rows);
    kg::nf4_gemv(gt, dx.get(), dy.get(), batch, nullptr);
    r.check(name + "/gemv batch " + std::to_string(batch), rel_error(dy.download(), y_want), tol<T>());
    if (batch == 1 || batch == 8)
      r.time(name + "/gemv batch " + std::to_string(batch),
             [&] { kg::nf4_gemv(gt, dx.get(), dy.get(), batch, nullptr); }, double(gt.storage_bytes()));
    if constexpr (std::is_same_v<T, bf16>) {
      // The launch-shape variants swept by kernels_bench: same contract, same tolerance.
      if (batch == 1 || batch == 3 || batch == 8)
        for (int v = 1; v < kg::detail::nf4_gemv_bf16_variants(); ++v) {
          DeviceBuffer<T> dyv(batch * rows);
          kg::detail::nf4_gemv_bf16_variant(v, gt, dx.get(), dyv.get(), batch, nullptr);
          r.check(name + "/gemv batch " + std::to_string(batch) + " variant " + std::to_string(v),
                  rel_error(dyv.download(), y_want), tol<T>());
        }
    }
  }
}

template <class TI, class TO>
void gemm_case(Report& r, bool ta, bool tb, float beta) {
  const std::string name = std::string("gemm/") + tname<TI>() + "->" + tname<TO>() +
                           (ta ? "/At" : "/A") + (tb ? "Bt" : "B") + (beta != 0 ? "/beta1" : "");
  auto rng = rng_for(name);
  const int64_t M = 77, N = 300, K = 256;
  const int64_t lda = ta ? M : K, ldb = tb ? K : N, ldc = N;
  auto A = random_vec<TI>(rng, (ta ? K : M) * lda), B = random_vec<TI>(rng, (tb ? N : K) * ldb);
  auto C = random_vec<TO>(rng, M * ldc);
  auto want = C;
  kc::gemm<TI, TO>(ta, tb, M, N, K, 0.7f, A.data(), lda, B.data(), ldb, beta, want.data(), ldc, nullptr);
  DeviceBuffer<TI> dA(A), dB(B);
  DeviceBuffer<TO> dC(C.size());
  if (beta != 0) dC.upload(C);  // beta = 0: C stays NaN-poisoned and must not be read
  kg::gemm<TI, TO>(ta, tb, M, N, K, 0.7f, dA.get(), lda, dB.get(), ldb, beta, dC.get(), ldc, nullptr);
  r.check(name, rel_error(dC.download(), want), tol<TO>());
  r.time(name, [&] {
    kg::gemm<TI, TO>(ta, tb, M, N, K, 0.7f, dA.get(), lda, dB.get(), ldb, 0.0f, dC.get(), ldc, nullptr);
  }, 0, 2.0 * M * N * K);
}

void linear_bias_case(Report& r) {
  auto rng = rng_for("linear_fwd/bf16+bias");
  const int64_t M = 5, N = 1024, K = 512;
  auto x = random_vec<bf16>(rng, M * K), w = random_vec<bf16>(rng, N * K), b = random_vec<bf16>(rng, N);
  std::vector<bf16> want(M * N);
  kc::linear_fwd(x.data(), w.data(), b.data(), want.data(), M, N, K, nullptr);
  DeviceBuffer<bf16> dx(x), dw(w), db(b), dy(M * N);
  kg::linear_fwd(dx.get(), dw.get(), db.get(), dy.get(), M, N, K, nullptr);
  r.check("linear_fwd/bf16+bias", rel_error(dy.download(), want), kTolBf16);
}

template <class T>
void sampling_case(Report& r) {
  const std::string name = std::string("sample/") + tname<T>();
  auto rng = rng_for(name);
  const int64_t batch = 6, vocab = 151936, ld = vocab + 64;
  auto logits = random_vec<T>(rng, batch * ld, -10, 10);
  // Row 1: a planted tie between ids 7 and 150000 (greedy must pick 7). Row 2: a NaN.
  logits[1 * ld + 7] = logits[1 * ld + 150000] = from_float<T>(30.0f);
  logits[2 * ld + 3] = from_float<T>(NAN);
  std::vector<kernels::SamplingParams> p(batch);
  p[3].temperature = 0.7f;
  p[3].seed = 11;
  p[4].temperature = 1.0f;
  p[4].top_k = 50;
  p[4].seed = 12;
  p[5].temperature = 1.2f;
  p[5].top_p = 0.9f;
  p[5].seed = 13;
  std::vector<uint64_t> counters = {0, 1, 2, 3, 4, 5};
  std::vector<int32_t> want(batch), got(batch, -1);
  kc::sample(logits.data(), batch, vocab, ld, p.data(), counters.data(), want.data(), nullptr);
  DeviceBuffer<T> dl(logits);
  kg::sample(dl.get(), batch, vocab, ld, p.data(), counters.data(), got.data(), nullptr);
  int64_t mism = 0;
  for (int64_t b = 0; b < batch; ++b) mism += got[b] != want[b];
  mism += got[1] != 7;
  r.check(name + " (mismatched tokens)", double(mism), 0.0);
}

template <class T>
void cross_entropy_case(Report& r) {
  const std::string name = std::string("cross_entropy/") + tname<T>();
  auto rng = rng_for(name);
  const int64_t rows = 8, vocab = 151936;
  auto logits = random_vec<T>(rng, rows * vocab, -8, 8);
  std::vector<int32_t> labels = {5, 151935, -100, 0, 77777, 12, 3, 100000};
  std::vector<float> loss_want(rows);
  auto d_want = logits;
  kc::cross_entropy_fwd_bwd(d_want.data(), vocab, labels.data(), loss_want.data(), d_want.data(),
                            rows, vocab, 0.125f, nullptr);
  DeviceBuffer<T> dl(logits);
  DeviceBuffer<int32_t> dlab(labels);
  DeviceBuffer<float> dloss(rows);
  kg::cross_entropy_fwd_bwd(dl.get(), vocab, dlab.get(), dloss.get(), dl.get(), rows, vocab,
                            0.125f, nullptr);
  // The CPU twin sums exp in fp64, the GPU in fp32 over 151,936 terms: ~1e-6 relative.
  r.check(name + "/loss", rel_error(dloss.download(), loss_want), std::is_same_v<T, float> ? 1e-5 : kTolBf16);
  r.check(name + "/dlogits", rel_error(dl.download(), d_want), std::is_same_v<T, float> ? 1e-5 : kTolBf16);
  r.time(name, [&] {
    kg::cross_entropy_fwd_bwd(dl.get(), vocab, dlab.get(), dloss.get(), dl.get(), rows, vocab, 0.125f, nullptr);
  }, 2.0 * rows * vocab * sizeof(T));
}

template <class T>
void dropout_case(Report& r) {
  const std::string name = std::string("dropout/") + tname<T>();
  auto rng = rng_for(name);
  const int64_t n = 1000003;
  auto x = random_vec<T>(rng, n, 0.5, 1.5);
  std::vector<T> want(n), dwant(n);
  kc::dropout_fwd(x.data(), want.data(), n, 0.05f, 99, 123456789, nullptr);
  kc::dropout_bwd(x.data(), dwant.data(), n, 0.05f, 99, 123456789, nullptr);
  DeviceBuffer<T> dx(x), dy(n), ddx(n);
  kg::dropout_fwd(dx.get(), dy.get(), n, 0.05f, 99, 123456789, nullptr);
  kg::dropout_bwd(dx.get(), ddx.get(), n, 0.05f, 99, 123456789, nullptr);
  // Same mask bits and the same scaled values (one fp32 multiply, one rounding each side).
  r.check(name + "/fwd", rel_error(dy.download(), want), 0.0);
  r.check(name + "/bwd", rel_error(ddx.download(), dwant), 0.0);
}

void adamw_case(Report& r) {
  auto rng = rng_for("adamw");
  const int64_t n = 100003;
  auto p = random_vec<float>(rng, n), g = random_vec<float>(rng, n);
  auto m = random_vec<float>(rng, n, -0.1, 0.1), v = random_vec<float>(rng, n, 0, 0.01);
  kernels::AdamWParams hp;
  hp.lr = 2e-4f;
  hp.weight_decay = 0.01f;
  hp.step = 7;
  hp.grad_scale = 0.25f;
  DeviceBuffer<float> dp(p), dg(g), dm(m), dv(v), dss(1);
  kc::adamw_step(p.data(), g.data(), m.data(), v.data(), n, hp, nullptr);
  kg::adamw_step(dp.get(), dg.get(), dm.get(), dv.get(), n, hp, nullptr);
  r.check("adamw/param", rel_error(dp.download(), p), kTolF32);
  r.check("adamw/m", rel_error(dm.download(), m), kTolF32);
  r.check("adamw/v", rel_error(dv.download(), v), kTolF32);
  float ss = 0;
  kc::sum_squares(g.data(), n, &ss, nullptr);
  kg::sum_squares(dg.get(), n, dss.get(), nullptr);
  r.check("sum_squares", rel_error(dss.download(), std::vector<float>{ss}), kTolF32);
}

}  // namespace
}  // namespace ritsu::gpu_test

int main(int argc, char** argv) {
  using namespace ritsu::gpu_test;
  std::string filter;
  bool bench = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--filter") == 0 && i + 1 < argc) {
      filter = argv[++i];
    } else if (std::strcmp(argv[i], "--bench") == 0) {
      bench = true;
    } else {
      std::fprintf(stderr, "usage: %s [--filter SUBSTRING] [--bench]\nunknown argument: %s\n", argv[0], argv[i]);
      return 2;
    }
  }
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::printf("SKIP kernels_gpu_test: no CUDA device visible\n");
    return 77;
  }
  cudaDeviceProp prop{};
  RITSU_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  std::printf("device: %s (sm_%d%d)\n", prop.name, prop.major, prop.minor);

  using ritsu::bf16;
  Report r;
  r.bench = bench;
  const std::vector<std::pair<std::string, std::function<void()>>> cases = {
      {"embedding", [&] { embedding_case<float>(r); embedding_case<bf16>(r); }},
      {"rms_norm", [&] {
         rms_norm_case<float>(r, 100, 4096);
         rms_norm_case<bf16>(r, 100, 4096);
         rms_norm_case<bf16>(r, 3200, 128);  // q_norm shape: tokens*heads rows of head_dim
       }},
      {"rope", [&] { rope_case<float>(r); rope_case<bf16>(r); }},
      {"flash_attention", [&] {
         // head_dim 128 and 64 take the bf16 tensor-core path; lengths straddle the 64 tiles.
         flash_case<bf16>(r, "hd128-varlen", {{1, 63, 64, 65, 200, 700}, {1, 63, 64, 65, 200, 700}, 32, 8, 128});
         flash_case<bf16>(r, "hd128-cached-prefix", {{50, 130}, {300, 130}, 16, 4, 128});
         flash_case<bf16>(r, "hd64-varlen", {{17, 300}, {17, 300}, 14, 2, 64});
         // mma.sync kernel edges: 128-row q tiles and 64-key tiles at, below and above the
         // boundaries; GQA ratios 8 and 1; cached prefixes (lk > lq) on both head sizes.
         flash_case<bf16>(r, "hd128-gqa8", {{128, 129, 255, 520}, {128, 129, 255, 520}, 16, 2, 128});
         flash_case<bf16>(r, "hd128-mha", {{1, 127, 300}, {1, 127, 300}, 8, 8, 128});
         flash_case<bf16>(r, "hd128-cached-prefix-long", {{1, 130, 64}, {700, 1000, 65}, 8, 1, 128});
         flash_case<bf16>(r, "hd64-gqa4-cached-prefix", {{1, 100, 257}, {40, 356, 257}, 16, 4, 64});
         flash_case<bf16>(r, "hd64-mha", {{63, 192}, {63, 192}, 4, 4, 64});
         flash_case<bf16>(r, "hd96-simple", {{40, 90}, {40, 90}, 4, 4, 96});
         flash_case<float>(r, "hd128-simple", {{33, 129}, {33, 129}, 8, 2, 128});
       }},
      {"flash_attention_bwd", [&] {
         // bf16 head_dim 128/64: the tensor-core backward (64-key blocks, 64-query tiles);
         // lengths at, below and above the tile edges; GQA ratios 4 and 8 and MHA; the trainer's shape (2 x 1024, 32/8 heads); a cached
         // prefix (lk > lq, more key tiles than query tiles); q/k/v as views into fused qkv.
         flash_bwd_case<bf16>(r, "hd128-varlen-gqa4", {{1, 63, 64, 65, 200, 700}, {1, 63, 64, 65, 200, 700}, 32, 8, 128});
         flash_bwd_case<bf16>(r, "hd128-2x1024-gqa4-fused", {{1024, 1024}, {1024, 1024}, 32, 8, 128}, true);
         flash_bwd_case<bf16>(r, "hd128-gqa8", {{128, 129, 255, 520}, {128, 129, 255, 520}, 16, 2, 128});
         flash_bwd_case<bf16>(r, "hd128-mha", {{1, 127, 300}, {1, 127, 300}, 8, 8, 128});
         flash_bwd_case<bf16>(r, "hd128-cached-prefix", {{50, 130}, {300, 130}, 16, 4, 128});
         flash_bwd_case<bf16>(r, "hd64-varlen-gqa4", {{1, 63, 64, 65, 200, 700}, {1, 63, 64, 65, 200, 700}, 16, 4, 64});
         flash_bwd_case<bf16>(r, "hd64-gqa8-fused", {{17, 300, 129}, {17, 300, 129}, 16, 2, 64}, true);
         flash_bwd_case<bf16>(r, "hd64-mha", {{63, 192}, {63, 192}, 4, 4, 64});
         // The simple exact kernel: other head sizes, fp32.
         flash_bwd_case<bf16>(r, "hd96-simple", {{40, 90}, {40, 90}, 4, 4, 96});
         flash_bwd_case<float>(r, "hd64-simple", {{37, 100}, {37, 100}, 8, 2, 64});
         flash_train_bench(r);
       }},
      {"decode_attention", [&] { decode_case<float>(r); decode_case<bf16>(r); }},
      {"swiglu", [&] { swiglu_case<float>(r); swiglu_case<bf16>(r); }},
      {"elementwise", [&] { elementwise_case<float>(r); elementwise_case<bf16>(r); cast_case(r); }},
      {"nf4", [&] {
         nf4_case<bf16>(r, 1024, 4096);
         nf4_case<bf16>(r, 256, 12288);
         nf4_case<float>(r, 300, 640);
         nf4_case<bf16>(r, 33, 100);  // rows not a multiple of 8 elements: the scalar dequantize
       }},
      {"gemm", [&] {
         for (bool ta : {false, true})
           for (bool tb : {false, true}) {
             gemm_case<float, float>(r, ta, tb, 0.0f);
             gemm_case<bf16, bf16>(r, ta, tb, 0.0f);
           }
         gemm_case<float, float>(r, false, true, 1.0f);
         gemm_case<bf16, bf16>(r, false, true, 1.0f);
         gemm_case<bf16, float>(r, false, true, 0.0f);
         gemm_case<bf16, float>(r, true, false, 1.0f);
         linear_bias_case(r);
       }},
      {"sample", [&] { sampling_case<float>(r); sampling_case<bf16>(r); }},
      {"cross_entropy", [&] { cross_entropy_case<float>(r); cross_entropy_case<bf16>(r); }},
      {"adamw", [&] { adamw_case(r); }},
      {"dropout", [&] { dropout_case<float>(r); dropout_case<bf16>(r); }},
  };
  for (const auto& [family, run] : cases)
    if (filter.empty() || family.find(filter) != std::string::npos) run();
  std::printf("%s: %d passed, %d failed\n", r.failed ? "FAILED" : "ALL PASSED", r.passed, r.failed);
  return r.failed ? 1 : 0;
}
