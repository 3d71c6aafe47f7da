// Prefill attention, flash-attention style: no score matrix in global memory, online softmax.
//
// bf16 with head_dim 64 or 128 (every Qwen model) takes the tensor-core path: by default the
// mma.sync kernel of flash_fwd_mma.cuh (one launch for the whole varlen batch, 128 query rows
// per block, cp.async double-buffered 64-key K/V tiles, register-resident online softmax; see
// that file). The older WMMA kernel below is kept as a known-good fallback selectable at run
// time (RITSU_FLASH_PREFILL_KERNEL=wmma, see prefill_kernel()): a block of 4 warps owns 64 query
// rows of one (sequence, head), stages S and P through shared memory and loads K/V tiles
// synchronously. Everything else (fp32 storage, other head sizes, unaligned views) takes a
// simple exact kernel: one warp per (query, head), keys in sequence, one shuffle reduction per
// key.
//
// The backward follows the same split: bf16 with head_dim 64 or 128 and 16-byte-aligned views
// takes the tensor-core kernels of flash_bwd_mma.cuh (FlashAttention-2 loop order: a block per
// 64 keys of one (sequence, head) walks the query tiles, dQ reduced with fp32 atomics into a
// stream-ordered scratch; see that file); everything else the simple one-warp-per-query kernel
// (flash_bwd_simple_kernel). The tensor-core kernel has two variants (FlashBwdKernel in
// attention.h): Q and dO double-buffered, or dO single-buffered for devices whose blocks may
// not have 112 KiB of shared memory (sm_86/sm_89: 99 KiB); flash_bwd_select.h chooses.
#include <mma.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "kernels/attention/attention.h"
#include "kernels/attention/flash_bwd_mma.cuh"
#include "kernels/attention/flash_bwd_select.h"
#include "kernels/attention/flash_fwd_mma.cuh"
#include "kernels/common/cuda_common.cuh"

namespace ritsu::kernels::cuda {
namespace {

using namespace cuda_detail;
using namespace nvcuda;

constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

// ------------------------------------------------------------------ tensor-core path

template <int HD>
struct Tile {
  static constexpr int kBQ = 64;                       // query rows per block
  static constexpr int kBK = 64;                       // keys per tile
  static constexpr int kWarps = 4;                     // 16 query rows per warp
  static constexpr int kLdQK = HD + 8;                 // bf16, padded against bank conflicts
  static constexpr int kLdS = kBK + 4;                 // fp32 scores
  static constexpr int kLdPV = HD + 4;                 // fp32 P.V product
  static constexpr int kLdP = kBK + 8;                 // bf16 probabilities
  static constexpr int kScratch = (16 * kLdPV > 16 * kLdS) ? 16 * kLdPV : 16 * kLdS;  // per warp
  static constexpr size_t kQKVBytes = size_t(kBQ + 2 * kBK) * kLdQK * 2;
  static constexpr size_t kScratchBytes = size_t(kWarps) * kScratch * 4;
  static constexpr size_t kPBytes = size_t(kWarps) * 16 * kLdP * 2;
  static constexpr size_t kSmemBytes = kQKVBytes + kScratchBytes + kPBytes;
  static_assert(kQKVBytes % 32 == 0 && kScratchBytes % 32 == 0, "wmma needs 32-byte alignment");
};

// Copies `rows` rows of HD bf16 (row r at src + r*stride) into smem rows of ld, 16 bytes per
// thread per step; rows >= valid are zero-filled.
template <int HD>
__device__ __forceinline__ void load_rows(__nv_bfloat16* dst, int ld, const bf16* src,
                                          int64_t stride, int rows, int valid) {
  constexpr int kChunks = HD / 8;
  for (int c = threadIdx.x; c < rows * kChunks; c += blockDim.x) {
    const int r = c / kChunks, col = (c % kChunks) * 8;
    uint4 val = make_uint4(0, 0, 0, 0);
    if (r < valid) val = *reinterpret_cast<const uint4*>(src + r * stride + col);
    *reinterpret_cast<uint4*>(dst + r * ld + col) = val;
  }
}

template <int HD>
__global__ void __launch_bounds__(128)
    flash_fwd_wmma_kernel(const bf16* q, const bf16* k, const bf16* v, bf16* out, float* lse,
                          const int32_t* cu_q, const int32_t* cu_k, int64_t n_heads,
                          int64_t n_kv_heads, int64_t q_stride, int64_t kv_stride,
                          float scale_log2) {
  using L = Tile<HD>;
  const int64_t b = blockIdx.z, h = blockIdx.y;
  const int64_t q0 = cu_q[b], lq = cu_q[b + 1] - q0;
  const int64_t k0 = cu_k[b], lk = cu_k[b + 1] - k0;
  const int64_t tile_q = int64_t(blockIdx.x) * L::kBQ;
  if (tile_q >= lq) return;
  const int64_t total_q = cu_q[gridDim.z];
  const int64_t kvh = h / (n_heads / n_kv_heads);
  const int64_t shift = lk - lq;

  extern __shared__ __align__(128) unsigned char smem[];
  __nv_bfloat16* sQ = reinterpret_cast<__nv_bfloat16*>(smem);
  __nv_bfloat16* sK = sQ + L::kBQ * L::kLdQK;
  __nv_bfloat16* sV = sK + L::kBK * L::kLdQK;
  float* sScratch = reinterpret_cast<float*>(smem + L::kQKVBytes);
  __nv_bfloat16* sP = reinterpret_cast<__nv_bfloat16*>(smem + L::kQKVBytes + L::kScratchBytes);

  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int r = lane >> 1;     // this lane's row within the warp's 16
  const int half = lane & 1;   // which half of the columns it handles
  const int64_t my_q = tile_q + warp * 16 + r;  // query index within the sequence
  const bool row_valid = my_q < lq;
  const int64_t last_key = my_q + shift;        // inclusive causal limit
  float* sS = sScratch + warp * L::kScratch;
  __nv_bfloat16* sPw = sP + warp * 16 * L::kLdP;

  load_rows<HD>(sQ, L::kLdQK, q + (q0 + tile_q) * q_stride + h * HD, q_stride, L::kBQ,
                int(lq - tile_q < L::kBQ ? lq - tile_q : L::kBQ));

  float o[HD / 2];
#pragma unroll
  for (int c = 0; c < HD / 2; ++c) o[c] = 0.0f;
  float m = -INFINITY, l = 0.0f;  // running max (log2 domain) and sum of this row

  int64_t k_end = tile_q + L::kBQ + shift;  // exclusive: keys any row of the block can see
  if (k_end > lk) k_end = lk;
  for (int64_t kt = 0; kt < k_end; kt += L::kBK) {
    __syncthreads();  // the previous tile is fully consumed (and Q is loaded on entry)
    const int valid = int(lk - kt < L::kBK ? lk - kt : L::kBK);
    load_rows<HD>(sK, L::kLdQK, k + (k0 + kt) * kv_stride + kvh * HD, kv_stride, L::kBK, valid);
    load_rows<HD>(sV, L::kLdQK, v + (k0 + kt) * kv_stride + kvh * HD, kv_stride, L::kBK, valid);
    __syncthreads();

    // S = Q K^T for this warp's 16 rows.
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> s_acc[L::kBK / 16];
#pragma unroll
    for (int n = 0; n < L::kBK / 16; ++n) wmma::fill_fragment(s_acc[n], 0.0f);
#pragma unroll
    for (int d = 0; d < HD; d += 16) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> a;
      wmma::load_matrix_sync(a, sQ + warp * 16 * L::kLdQK + d, L::kLdQK);
#pragma unroll
      for (int n = 0; n < L::kBK / 16; ++n) {
        wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::col_major> kb;
        wmma::load_matrix_sync(kb, sK + n * 16 * L::kLdQK + d, L::kLdQK);
        wmma::mma_sync(s_acc[n], a, kb, s_acc[n]);
      }
    }
#pragma unroll
    for (int n = 0; n < L::kBK / 16; ++n)
      wmma::store_matrix_sync(sS + n * 16, s_acc[n], L::kLdS, wmma::mem_row_major);
    __syncwarp();

    // Online softmax on this lane's half row.
    constexpr int kHalfK = L::kBK / 2;
    float sv[kHalfK];
    float tile_max = -INFINITY;
#pragma unroll
    for (int c = 0; c < kHalfK; ++c) {
      const int64_t j = kt + half * kHalfK + c;
      float x = sS[r * L::kLdS + half * kHalfK + c] * scale_log2;
      if (!row_valid || j > last_key || j >= lk) x = -INFINITY;
      sv[c] = x;
      tile_max = fmaxf(tile_max, x);
    }
    tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 1));
    const float m_new = fmaxf(m, tile_max);
    const float m_use = m_new == -INFINITY ? 0.0f : m_new;
    const float alpha = exp2f(m - m_use);
    float row_sum = 0.0f;
#pragma unroll
    for (int c = 0; c < kHalfK; ++c) {
      const __nv_bfloat16 p = __float2bfloat16_rn(exp2f(sv[c] - m_use));
      row_sum += __bfloat162float(p);  // normalize by exactly what multiplies V
      sPw[r * L::kLdP + half * kHalfK + c] = p;
    }
    row_sum += __shfl_xor_sync(0xffffffffu, row_sum, 1);
    l = l * alpha + row_sum;
    m = m_new;
    __syncwarp();

    // PV = P V (16 x HD), into the scratch that held S.
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> pv[HD / 16];
#pragma unroll
    for (int n = 0; n < HD / 16; ++n) wmma::fill_fragment(pv[n], 0.0f);
#pragma unroll
    for (int kk = 0; kk < L::kBK; kk += 16) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> pa;
      wmma::load_matrix_sync(pa, sPw + kk, L::kLdP);
#pragma unroll
      for (int n = 0; n < HD / 16; ++n) {
        wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::row_major> vb;
        wmma::load_matrix_sync(vb, sV + kk * L::kLdQK + n * 16, L::kLdQK);
        wmma::mma_sync(pv[n], pa, vb, pv[n]);
      }
    }
#pragma unroll
    for (int n = 0; n < HD / 16; ++n)
      wmma::store_matrix_sync(sS + n * 16, pv[n], L::kLdPV, wmma::mem_row_major);
    __syncwarp();
#pragma unroll
    for (int c = 0; c < HD / 2; ++c) o[c] = o[c] * alpha + sS[r * L::kLdPV + half * (HD / 2) + c];
    __syncwarp();
  }

  if (!row_valid) return;
  const float inv = l > 0.0f ? 1.0f / l : 0.0f;
  __nv_bfloat16* orow = reinterpret_cast<__nv_bfloat16*>(out) +
                        ((q0 + my_q) * n_heads + h) * HD + half * (HD / 2);
#pragma unroll
  for (int c = 0; c < HD / 2; c += 2)
    *reinterpret_cast<__nv_bfloat162*>(orow + c) = __floats2bfloat162_rn(o[c] * inv, o[c + 1] * inv);
  if (lse && half == 0) lse[h * total_q + q0 + my_q] = l > 0.0f ? (m + log2f(l)) * kLn2 : -INFINITY;
}

// ------------------------------------------------------------------ simple exact path

constexpr int kMaxPerLane = 8;  // head_dim <= 256
constexpr int kSimpleWarps = 4;

template <class T>
__global__ void __launch_bounds__(32 * kSimpleWarps)
    flash_fwd_simple_kernel(const T* q, const T* k, const T* v, T* out, float* lse,
                            const int32_t* cu_q, const int32_t* cu_k, int64_t n_heads,
                            int64_t n_kv_heads, int64_t head_dim, int64_t q_stride,
                            int64_t kv_stride, float scale) {
  const int64_t b = blockIdx.z, h = blockIdx.y;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int64_t i = int64_t(blockIdx.x) * kSimpleWarps + warp;
  const int64_t q0 = cu_q[b], lq = cu_q[b + 1] - q0;
  const int64_t k0 = cu_k[b], lk = cu_k[b + 1] - k0;
  if (i >= lq) return;
  const int64_t total_q = cu_q[gridDim.z];
  const int64_t kvh = h / (n_heads / n_kv_heads);
  int64_t visible = i + (lk - lq) + 1;
  visible = visible < 0 ? 0 : (visible > lk ? lk : visible);
  float qv[kMaxPerLane], acc[kMaxPerLane];
#pragma unroll
  for (int e = 0; e < kMaxPerLane; ++e) {
    const int64_t d = e * 32 + lane;
    qv[e] = d < head_dim ? load_f(&q[(q0 + i) * q_stride + h * head_dim + d]) : 0.0f;
    acc[e] = 0.0f;
  }
  float m = -INFINITY, l = 0.0f;
  for (int64_t j = 0; j < visible; ++j) {
    const T* kj = k + (k0 + j) * kv_stride + kvh * head_dim;
    const T* vj = v + (k0 + j) * kv_stride + kvh * head_dim;
    float dot = 0.0f;
#pragma unroll
    for (int e = 0; e < kMaxPerLane; ++e) {
      const int64_t d = e * 32 + lane;
      if (d < head_dim) dot += qv[e] * load_f(&kj[d]);
    }
    const float s = warp_sum(dot) * scale;
    const float m_new = fmaxf(m, s);
    const float corr = expf(m - m_new), p = expf(s - m_new);
    l = l * corr + p;
    m = m_new;
#pragma unroll
    for (int e = 0; e < kMaxPerLane; ++e) {
      const int64_t d = e * 32 + lane;
      if (d < head_dim) acc[e] = acc[e] * corr + p * load_f(&vj[d]);
    }
  }
  const float inv = l > 0.0f ? 1.0f / l : 0.0f;
#pragma unroll
  for (int e = 0; e < kMaxPerLane; ++e) {
    const int64_t d = e * 32 + lane;
    if (d < head_dim) store_f(&out[((q0 + i) * n_heads + h) * head_dim + d], acc[e] * inv);
  }
  if (lse && lane == 0) lse[h * total_q + q0 + i] = l > 0.0f ? m + logf(l) : -INFINITY;
}

// Backward, one warp per (query, head): recomputes p from lse, accumulates dq in registers
// and scatters dk/dv with fp32 atomics (GQA heads and queries share keys).
template <class T>
__global__ void __launch_bounds__(32 * kSimpleWarps)
    flash_bwd_simple_kernel(const T* q, const T* k, const T* v, const T* out, const float* lse,
                            const T* dout, T* dq, float* dk, float* dv, const int32_t* cu_q,
                            const int32_t* cu_k, int64_t n_heads, int64_t n_kv_heads,
                            int64_t head_dim, int64_t q_stride, int64_t kv_stride, float scale) {
  const int64_t b = blockIdx.z, h = blockIdx.y;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int64_t i = int64_t(blockIdx.x) * kSimpleWarps + warp;
  const int64_t q0 = cu_q[b], lq = cu_q[b + 1] - q0;
  const int64_t k0 = cu_k[b], lk = cu_k[b + 1] - k0;
  if (i >= lq) return;
  const int64_t total_q = cu_q[gridDim.z];
  const int64_t kvh = h / (n_heads / n_kv_heads);
  int64_t visible = i + (lk - lq) + 1;
  visible = visible < 0 ? 0 : (visible > lk ? lk : visible);
  const int64_t row = (q0 + i) * n_heads + h;
  float qv[kMaxPerLane], dov[kMaxPerLane], dqv[kMaxPerLane];
  float delta = 0.0f;
#pragma unroll
  for (int e = 0; e < kMaxPerLane; ++e) {
    const int64_t d = e * 32 + lane;
    const bool in = d < head_dim;
    qv[e] = in ? load_f(&q[(q0 + i) * q_stride + h * head_dim + d]) : 0.0f;
    dov[e] = in ? load_f(&dout[row * head_dim + d]) : 0.0f;
    delta += in ? dov[e] * load_f(&out[row * head_dim + d]) : 0.0f;
    dqv[e] = 0.0f;
  }
  delta = warp_sum(delta);
  const float l = lse[h * total_q + q0 + i];
  for (int64_t j = 0; j < visible; ++j) {
    const T* kj = k + (k0 + j) * kv_stride + kvh * head_dim;
    const T* vj = v + (k0 + j) * kv_stride + kvh * head_dim;
    float s = 0.0f, dp = 0.0f;
#pragma unroll
    for (int e = 0; e < kMaxPerLane; ++e) {
      const int64_t d = e * 32 + lane;
      if (d < head_dim) {
        s += qv[e] * load_f(&kj[d]);
        dp += dov[e] * load_f(&vj[d]);
      }
    }
    s = warp_sum(s);
    dp = warp_sum(dp);
    const float p = expf(s * scale - l);
    const float ds = p * (dp - delta) * scale;
    float* dkj = dk + ((k0 + j) * n_kv_heads + kvh) * head_dim;
    float* dvj = dv + ((k0 + j) * n_kv_heads + kvh) * head_dim;
#pragma unroll
    for (int e = 0; e < kMaxPerLane; ++e) {
      const int64_t d = e * 32 + lane;
      if (d < head_dim) {
        dqv[e] += ds * load_f(&kj[d]);
        atomicAdd(&dkj[d], ds * qv[e]);
        atomicAdd(&dvj[d], p * dov[e]);
      }
    }
  }
#pragma unroll
  for (int e = 0; e < kMaxPerLane; ++e) {
    const int64_t d = e * 32 + lane;
    if (d < head_dim) store_f(&dq[row * head_dim + d], dqv[e]);
  }
}

// bf16 prefill kernels for head_dim 64/128: the mma.sync/cp.async kernel of flash_fwd_mma.cuh
// with 32 rows per warp (kMma32, the default) or 16 rows per warp (kMma16), or the older WMMA
// kernel above (kWmma, kept as a known-good fallback). The environment variable
// RITSU_FLASH_PREFILL_KERNEL=mma32|mma16|wmma overrides the default so that the GPU checks and
// the benchmark can exercise and time every variant from the same binaries.
enum class PrefillKernel { kMma32, kMma16, kWmma };
constexpr PrefillKernel kPrefillDefault = PrefillKernel::kMma32;

PrefillKernel prefill_kernel() {
  static const PrefillKernel chosen = [] {
    const char* env = std::getenv("RITSU_FLASH_PREFILL_KERNEL");
    if (env == nullptr || *env == '\0') return kPrefillDefault;
    if (std::strcmp(env, "mma32") == 0) return PrefillKernel::kMma32;
    if (std::strcmp(env, "mma16") == 0) return PrefillKernel::kMma16;
    if (std::strcmp(env, "wmma") == 0) return PrefillKernel::kWmma;
    std::fprintf(stderr,
                 "ritsu: RITSU_FLASH_PREFILL_KERNEL=%s is not mma32, mma16 or wmma; using the "
                 "default (mma32)\n",
                 env);
    return kPrefillDefault;
  }();
  return chosen;
}

// Largest dynamic shared memory a block of the current device may opt in to (cached per
// device): the head_dim-128 backward's default variant needs 112 KiB, more than sm_86/sm_89
// parts allow (99 KiB); there it takes the single-dO-buffer variant (flash_bwd_select.h).
size_t max_smem_optin() {
  static std::atomic<int> cached[64] = {};
  int device = 0;
  RITSU_CUDA_CHECK(cudaGetDevice(&device));
  int v = cached[device & 63].load();
  if (v == 0) {
    RITSU_CUDA_CHECK(cudaDeviceGetAttribute(&v, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
    cached[device & 63].store(v);
  }
  return size_t(v);
}

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

template <int HD>
void launch_wmma(const bf16* q, const bf16* k, const bf16* v, bf16* out, float* lse,
                 const int32_t* cu_q, const int32_t* cu_k, int64_t batch, int64_t max_lq,
                 int64_t n_heads, int64_t n_kv_heads, int64_t q_stride, int64_t kv_stride,
                 float scale, Stream s) {
  using L = Tile<HD>;
  // The opt-in to > 48 KiB of dynamic shared memory is per function and per device.
  static std::atomic<uint64_t> configured_devices{0};
  int device = 0;
  RITSU_CUDA_CHECK(cudaGetDevice(&device));
  const uint64_t bit = uint64_t(1) << (device & 63);
  if (!(configured_devices.load() & bit)) {
    RITSU_CUDA_CHECK(cudaFuncSetAttribute(flash_fwd_wmma_kernel<HD>,
                                          cudaFuncAttributeMaxDynamicSharedMemorySize,
                                          int(L::kSmemBytes)));
    configured_devices.fetch_or(bit);
  }
  dim3 grid(unsigned((max_lq + L::kBQ - 1) / L::kBQ), unsigned(n_heads), unsigned(batch));
  flash_fwd_wmma_kernel<HD><<<grid, 32 * L::kWarps, L::kSmemBytes, stream(s)>>>(
      q, k, v, out, lse, cu_q, cu_k, n_heads, n_kv_heads, q_stride, kv_stride, scale * kLog2e);
  RITSU_CUDA_CHECK_LAUNCH();
}

template <int HD, int MT>
void launch_mma(const bf16* q, const bf16* k, const bf16* v, bf16* out, float* lse,
                const int32_t* cu_q, const int32_t* cu_k, int64_t batch, int64_t max_lq,
                int64_t n_heads, int64_t n_kv_heads, int64_t q_stride, int64_t kv_stride,
                float scale, Stream s) {
  constexpr size_t kSmem = flash_mma::Smem<HD>::kBytes;
  const int64_t q_tiles = (max_lq + flash_mma::kBQ - 1) / flash_mma::kBQ;
  RITSU_KERNEL_REQUIRE(q_tiles <= 65535);
  // The opt-in to > 48 KiB of dynamic shared memory is per function and per device.
  static std::atomic<uint64_t> configured_devices{0};
  int device = 0;
  RITSU_CUDA_CHECK(cudaGetDevice(&device));
  const uint64_t bit = uint64_t(1) << (device & 63);
  if (!(configured_devices.load() & bit)) {
    RITSU_CUDA_CHECK(cudaFuncSetAttribute(flash_mma::flash_fwd_mma_kernel<HD, MT>,
                                          cudaFuncAttributeMaxDynamicSharedMemorySize,
                                          int(kSmem)));
    configured_devices.fetch_or(bit);
  }
  // x = head (fastest: a GQA group's heads run together and share K/V through L2),
  // y = sequence, z = q tile (longest first, see the kernel).
  const dim3 grid{unsigned(n_heads), unsigned(batch), unsigned(q_tiles)};
  flash_mma::flash_fwd_mma_kernel<HD, MT>
      <<<grid, flash_mma::Warps<MT>::kThreads, kSmem, stream(s)>>>(
          reinterpret_cast<const __nv_bfloat16*>(q), reinterpret_cast<const __nv_bfloat16*>(k),
          reinterpret_cast<const __nv_bfloat16*>(v), reinterpret_cast<__nv_bfloat16*>(out), lse,
          cu_q, cu_k, int(n_heads), int(n_heads / n_kv_heads), q_stride, kv_stride,
          scale * kLog2e);
  RITSU_CUDA_CHECK_LAUNCH();
}

// Stream-ordered scratch for the backward: a memory pool per device that keeps what it has
// reserved (release threshold: never) instead of the default pool, which hands memory back to
// the driver at every synchronization and would map it again on the next layer's call. It
// holds at most the largest scratch used at once (the dQ accumulator of one layer).
cudaMemPool_t bwd_scratch_pool(int device) {
  static std::mutex mu;
  static cudaMemPool_t pools[64] = {};
  std::lock_guard<std::mutex> lock(mu);
  cudaMemPool_t& pool = pools[device & 63];
  if (pool == nullptr) {
    cudaMemPoolProps props{};
    props.allocType = cudaMemAllocationTypePinned;
    props.location.type = cudaMemLocationTypeDevice;
    props.location.id = device;
    RITSU_CUDA_CHECK(cudaMemPoolCreate(&pool, &props));
    uint64_t keep = UINT64_MAX;
    RITSU_CUDA_CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep));
  }
  return pool;
}

// Backward on the tensor cores (flash_bwd_mma.cuh): prep (D, zeroing) -> main -> dQ conversion,
// all on the caller's stream, no host synchronization. The fp32 dQ accumulator and D live in a
// stream-ordered scratch sized from batch * max_lq (>= total_q, which only the device knows),
// freed stream-ordered after the last kernel.
template <int HD, int DoBufs>
void launch_bwd_mma(const bf16* q, const bf16* k, const bf16* v, const bf16* out, const float* lse,
                    const bf16* dout, bf16* dq, float* dk, float* dv, const int32_t* cu_q,
                    const int32_t* cu_k, int64_t batch, int64_t max_lq, int64_t n_heads,
                    int64_t n_kv_heads, int64_t q_stride, int64_t kv_stride, float scale,
                    Stream s) {
  namespace fb = flash_mma_bwd;
  constexpr size_t kSmem = fb::Smem<HD, DoBufs>::kBytes;
  const int64_t rows = batch * max_lq;
  const int64_t key_tiles = (max_lq + fb::kBK - 1) / fb::kBK;
  RITSU_KERNEL_REQUIRE(key_tiles <= 65535 && rows * n_heads <= INT32_MAX);
  static std::atomic<uint64_t> configured_devices{0};
  int device = 0;
  RITSU_CUDA_CHECK(cudaGetDevice(&device));
  const uint64_t bit = uint64_t(1) << (device & 63);
  if (!(configured_devices.load() & bit)) {
    RITSU_CUDA_CHECK(cudaFuncSetAttribute(fb::flash_bwd_mma_kernel<HD, DoBufs>,
                                          cudaFuncAttributeMaxDynamicSharedMemorySize,
                                          int(kSmem)));
    // Two (head_dim 128) or three (64) blocks per SM need nearly all of the unified L1/shared
    // memory as shared memory.
    RITSU_CUDA_CHECK(cudaFuncSetAttribute(fb::flash_bwd_mma_kernel<HD, DoBufs>,
                                          cudaFuncAttributePreferredSharedMemoryCarveout,
                                          int(cudaSharedmemCarveoutMaxShared)));
    configured_devices.fetch_or(bit);
  }
  cudaStream_t st = stream(s);
  const size_t acc_elems = size_t(rows) * n_heads * HD;  // a multiple of 64: delta stays aligned
  float* scratch = nullptr;
  RITSU_CUDA_CHECK(cudaMallocFromPoolAsync(reinterpret_cast<void**>(&scratch),
                                           (acc_elems + size_t(rows) * n_heads) * sizeof(float),
                                           bwd_scratch_pool(device), st));
  float* dq_acc = scratch;
  float* delta = scratch + acc_elems;

  const dim3 prep_grid{unsigned((max_lq + fb::kPrepRows - 1) / fb::kPrepRows), unsigned(batch)};
  fb::flash_bwd_prep_kernel<HD><<<prep_grid, 256, 0, st>>>(
      reinterpret_cast<const __nv_bfloat16*>(out), reinterpret_cast<const __nv_bfloat16*>(dout),
      delta, dq_acc, dk, dv, cu_q, cu_k, int(n_heads), int(n_kv_heads));
  RITSU_CUDA_CHECK_LAUNCH();

  const dim3 grid{unsigned(n_heads), unsigned(batch), unsigned(key_tiles)};
  fb::flash_bwd_mma_kernel<HD, DoBufs><<<grid, fb::kThreads, kSmem, st>>>(
      reinterpret_cast<const __nv_bfloat16*>(q), reinterpret_cast<const __nv_bfloat16*>(k),
      reinterpret_cast<const __nv_bfloat16*>(v), reinterpret_cast<const __nv_bfloat16*>(dout),
      lse, delta, dq_acc, dk, dv, cu_q, cu_k, int(n_heads), int(n_kv_heads), q_stride, kv_stride,
      scale, scale * kLog2e);
  RITSU_CUDA_CHECK_LAUNCH();

  fb::flash_bwd_dq_kernel<<<grid_for(rows * n_heads * HD / 8, 256, 4096), 256, 0, st>>>(
      dq_acc, reinterpret_cast<__nv_bfloat16*>(dq), cu_q, int(batch), n_heads * HD, scale);
  RITSU_CUDA_CHECK_LAUNCH();
  RITSU_CUDA_CHECK(cudaFreeAsync(scratch, st));
}

void check_shape(int64_t batch, int64_t n_heads, int64_t n_kv_heads, int64_t head_dim) {
  RITSU_KERNEL_REQUIRE(head_dim > 0 && head_dim <= 32 * kMaxPerLane);
  RITSU_KERNEL_REQUIRE(n_kv_heads > 0 && n_heads % n_kv_heads == 0);
  RITSU_KERNEL_REQUIRE(batch <= 65535 && n_heads <= 65535);
}

}  // namespace

template <class T>
void flash_attention_fwd(const T* q, const T* k, const T* v, T* out, float* lse,
                         const int32_t* cu_seqlens_q, const int32_t* cu_seqlens_k, int64_t batch,
                         int64_t max_seqlen_q, int64_t n_heads, int64_t n_kv_heads,
                         int64_t head_dim, int64_t q_stride, int64_t kv_stride, float scale,
                         Stream s) {
  if (batch <= 0 || max_seqlen_q <= 0) return;
  check_shape(batch, n_heads, n_kv_heads, head_dim);
  if constexpr (std::is_same_v<T, bf16>) {
    const bool vec_ok = aligned16(q) && aligned16(k) && aligned16(v) && q_stride % 8 == 0 &&
                        kv_stride % 8 == 0;
    if (vec_ok && (head_dim == 128 || head_dim == 64)) {
      const PrefillKernel which = prefill_kernel();
      const bool hd128 = head_dim == 128;
      auto launch = which == PrefillKernel::kWmma    ? (hd128 ? launch_wmma<128> : launch_wmma<64>)
                    : which == PrefillKernel::kMma16 ? (hd128 ? launch_mma<128, 1> : launch_mma<64, 1>)
                                                     : (hd128 ? launch_mma<128, 2> : launch_mma<64, 2>);
      launch(q, k, v, out, lse, cu_seqlens_q, cu_seqlens_k, batch, max_seqlen_q, n_heads,
             n_kv_heads, q_stride, kv_stride, scale, s);
      return;
    }
  }
  dim3 grid(unsigned((max_seqlen_q + kSimpleWarps - 1) / kSimpleWarps), unsigned(n_heads),
            unsigned(batch));
  flash_fwd_simple_kernel<<<grid, 32 * kSimpleWarps, 0, stream(s)>>>(
      q, k, v, out, lse, cu_seqlens_q, cu_seqlens_k, n_heads, n_kv_heads, head_dim, q_stride,
      kv_stride, scale);
  RITSU_CUDA_CHECK_LAUNCH();
}

template <class T>
void flash_attention_bwd_with(FlashBwdKernel kernel, const T* q, const T* k, const T* v,
                              const T* out, const float* lse, const T* dout, T* dq, float* dk,
                              float* dv, const int32_t* cu_seqlens_q, const int32_t* cu_seqlens_k,
                              int64_t batch, int64_t max_seqlen_q, int64_t n_heads,
                              int64_t n_kv_heads, int64_t head_dim, int64_t q_stride,
                              int64_t kv_stride, float scale, Stream s) {
  if (batch <= 0) return;
  check_shape(batch, n_heads, n_kv_heads, head_dim);
  // 16-byte loads of q/k/v/out/dout and stores of dq, 8-byte atomics into dk/dv.
  const bool tensor_core_ok = std::is_same_v<T, bf16> && aligned16(q) && aligned16(k) &&
                              aligned16(v) && aligned16(out) && aligned16(dout) &&
                              aligned16(dq) && aligned16(dk) && aligned16(dv) &&
                              q_stride % 8 == 0 && kv_stride % 8 == 0;
  if (kernel == FlashBwdKernel::kAuto)
    kernel = choose_flash_bwd_kernel(tensor_core_ok, head_dim, tensor_core_ok ? max_smem_optin() : 0);
  if (kernel != FlashBwdKernel::kSimple) {
    // A forced tensor-core variant must apply (the tests rely on running what they asked for).
    RITSU_KERNEL_REQUIRE(tensor_core_ok && (head_dim == 64 || head_dim == 128));
    RITSU_KERNEL_REQUIRE(flash_bwd_smem_bytes(kernel, head_dim) <= max_smem_optin());
    if constexpr (std::is_same_v<T, bf16>) {
      if (max_seqlen_q > 0) {
        const bool low = kernel == FlashBwdKernel::kMmaLowSmem;
        auto launch = head_dim == 128 ? (low ? launch_bwd_mma<128, 1> : launch_bwd_mma<128, 2>)
                                      : (low ? launch_bwd_mma<64, 1> : launch_bwd_mma<64, 2>);
        launch(q, k, v, out, lse, dout, dq, dk, dv, cu_seqlens_q, cu_seqlens_k, batch,
               max_seqlen_q, n_heads, n_kv_heads, q_stride, kv_stride, scale, s);
        return;
      }
    }
  }
  // The simple kernel, and every variant's no-query case (dk/dv are still outputs: zeros).
  // dk/dv are accumulated with atomics: zero them first. Their size is cu_seqlens_k[batch],
  // which lives on the device: read it (one small synchronous copy per call).
  int32_t total_k = 0;
  RITSU_CUDA_CHECK(cudaMemcpyAsync(&total_k, cu_seqlens_k + batch, sizeof(int32_t),
                                   cudaMemcpyDeviceToHost, stream(s)));
  RITSU_CUDA_CHECK(cudaStreamSynchronize(stream(s)));
  const size_t kv_bytes = size_t(total_k) * n_kv_heads * head_dim * sizeof(float);
  RITSU_CUDA_CHECK(cudaMemsetAsync(dk, 0, kv_bytes, stream(s)));
  RITSU_CUDA_CHECK(cudaMemsetAsync(dv, 0, kv_bytes, stream(s)));
  if (max_seqlen_q <= 0) return;
  dim3 grid(unsigned((max_seqlen_q + kSimpleWarps - 1) / kSimpleWarps), unsigned(n_heads),
            unsigned(batch));
  flash_bwd_simple_kernel<<<grid, 32 * kSimpleWarps, 0, stream(s)>>>(
      q, k, v, out, lse, dout, dq, dk, dv, cu_seqlens_q, cu_seqlens_k, n_heads, n_kv_heads,
      head_dim, q_stride, kv_stride, scale);
  RITSU_CUDA_CHECK_LAUNCH();
}

template <class T>
void flash_attention_bwd(const T* q, const T* k, const T* v, const T* out, const float* lse,
                         const T* dout, T* dq, float* dk, float* dv,
                         const int32_t* cu_seqlens_q, const int32_t* cu_seqlens_k, int64_t batch,
                         int64_t max_seqlen_q, int64_t n_heads, int64_t n_kv_heads,
                         int64_t head_dim, int64_t q_stride, int64_t kv_stride, float scale,
                         Stream s) {
  flash_attention_bwd_with(FlashBwdKernel::kAuto, q, k, v, out, lse, dout, dq, dk, dv,
                           cu_seqlens_q, cu_seqlens_k, batch, max_seqlen_q, n_heads, n_kv_heads,
                           head_dim, q_stride, kv_stride, scale, s);
}

#define INSTANTIATE(T)                                                                         \
  template void flash_attention_fwd<T>(const T*, const T*, const T*, T*, float*,               \
                                       const int32_t*, const int32_t*, int64_t, int64_t,       \
                                       int64_t, int64_t, int64_t, int64_t, int64_t, float,     \
                                       Stream);                                                \
  template void flash_attention_bwd<T>(const T*, const T*, const T*, const T*, const float*,   \
                                       const T*, T*, float*, float*, const int32_t*,           \
                                       const int32_t*, int64_t, int64_t, int64_t, int64_t,     \
                                       int64_t, int64_t, int64_t, float, Stream);              \
  template void flash_attention_bwd_with<T>(FlashBwdKernel, const T*, const T*, const T*,      \
                                            const T*, const float*, const T*, T*, float*,      \
                                            float*, const int32_t*, const int32_t*, int64_t,   \
                                            int64_t, int64_t, int64_t, int64_t, int64_t,       \
                                            int64_t, float, Stream);
INSTANTIATE(float)
INSTANTIATE(bf16)
#undef INSTANTIATE

}  // namespace ritsu::kernels::cuda
