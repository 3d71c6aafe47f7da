// Fused NF4 dequant-GEMV for decode: y[b, n] = sum_k x[b, k] * W[n, k], batch 1..8.
// Two kernels: the fp32 CUDA-core kernel below serves T = float and bf16 at batch 1; bf16 at
// batch 2..8 uses the tensor-core kernel further down (figures in docs/PERFORMANCE.md).
// Memory-bound on the packed weight (N*K/2 bytes), so the layout is chosen for wide loads:
// one warp per output row; per step each lane loads 16 bytes of packed codes (32 elements,
// half of one 64-block, so one absmax per lane per step) and 32 activations per batch row,
// dequantizes in registers with the 16-entry code table in shared memory (the absmax is
// applied once to each 32-element partial sum, saving a multiply per element), and
// accumulates in fp32. A warp covers 1024 elements of the row per step; the row sum is one shuffle reduction.
// The weight is never written back, the activation rows are re-read from L1/L2 by every warp.
#include <string>
#include <type_traits>

#include "kernels/common/cuda_common.cuh"
#include "kernels/nf4/nf4.h"
#include "kernels/nf4/nf4_codec.h"
#include "kernels/nf4/nf4_gemv_variants.h"

namespace ritsu::kernels::cuda {
namespace {

using namespace cuda_detail;
constexpr int kWarpsPerBlock = 8;
constexpr int kPerLane = 32;  // elements per lane per step

__device__ __forceinline__ void load32(const bf16* p, float (&v)[kPerLane]) {
  const uint4* q = reinterpret_cast<const uint4*>(p);
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const uint4 u = __ldg(q + i);
    const uint32_t w[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      v[i * 8 + 2 * j] = __uint_as_float(w[j] << 16);
      v[i * 8 + 2 * j + 1] = __uint_as_float(w[j] & 0xffff0000u);
    }
  }
}
__device__ __forceinline__ void load32(const float* p, float (&v)[kPerLane]) {
  const float4* q = reinterpret_cast<const float4*>(p);
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    const float4 f = __ldg(q + i);
    v[4 * i] = f.x;
    v[4 * i + 1] = f.y;
    v[4 * i + 2] = f.z;
    v[4 * i + 3] = f.w;
  }
}

template <class T, int B>
__global__ void __launch_bounds__(32 * kWarpsPerBlock)
    nf4_gemv_kernel(const uint8_t* __restrict__ packed, const uint8_t* __restrict__ absmax_q,
                    const float* __restrict__ absmax_scale, const float* __restrict__ code,
                    float offset, const T* __restrict__ x, T* __restrict__ y, int64_t N,
                    int64_t K) {
  __shared__ float table[16];
  if (threadIdx.x < 16) table[threadIdx.x] = nf4_level(int(threadIdx.x));
  __syncthreads();
  const int lane = threadIdx.x & 31;
  for (int64_t n = int64_t(blockIdx.x) * kWarpsPerBlock + (threadIdx.x >> 5); n < N;
       n += int64_t(gridDim.x) * kWarpsPerBlock) {
    float acc[B];
#pragma unroll
    for (int b = 0; b < B; ++b) acc[b] = 0.0f;
    const int64_t row0 = n * K;
#pragma unroll 2
    for (int64_t k = int64_t(lane) * kPerLane; k < K; k += 32 * kPerLane) {
      const int64_t e = row0 + k;
      const uint4 codes = __ldg(reinterpret_cast<const uint4*>(packed + (e >> 1)));
      const int64_t blk = e >> 6;
      const float amax = __fadd_rn(__fmul_rn(__ldg(code + __ldg(absmax_q + blk)),
                                             __ldg(absmax_scale + (blk >> 8))),
                                   offset);
      float w[kPerLane];
      const uint32_t words[4] = {codes.x, codes.y, codes.z, codes.w};
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          const uint32_t byte = (words[i] >> (8 * j)) & 0xffu;  // little-endian byte 4i+j
          w[i * 8 + 2 * j] = table[byte >> 4];  // even element: high nibble
          w[i * 8 + 2 * j + 1] = table[byte & 0x0f];
        }
#pragma unroll
      for (int b = 0; b < B; ++b) {
        float xv[kPerLane];
        load32(x + b * K + k, xv);
        float s = 0.0f;
#pragma unroll
        for (int i = 0; i < kPerLane; ++i) s = fmaf(w[i], xv[i], s);
        acc[b] = fmaf(s, amax, acc[b]);  // the block's scale once per 32 products
      }
    }
#pragma unroll
    for (int b = 0; b < B; ++b) {
      const float total = warp_sum(acc[b]);
      if (lane == 0) store_f(&y[b * N + n], total);
    }
  }
}

template <class T, int B>
void launch(const Nf4Tensor& w, const T* x, T* y, Stream s) {
  // SM count per device, looked up once (the GEMV runs 252 times per 8B decode step).
  thread_local int sm_count[64] = {};
  int device = 0;
  RITSU_CUDA_CHECK(cudaGetDevice(&device));
  int& sms = sm_count[device & 63];
  if (sms == 0) RITSU_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  // Enough blocks to fill the GPU several times over; each warp then walks rows.
  const int64_t want = (w.rows + kWarpsPerBlock - 1) / kWarpsPerBlock;
  const int64_t cap = int64_t(sms) * 16;
  const unsigned grid = unsigned(want < cap ? want : cap);
  nf4_gemv_kernel<T, B><<<grid, 32 * kWarpsPerBlock, 0, stream(s)>>>(
      w.packed, w.absmax_q, w.absmax_scale, w.absmax_code, w.absmax_offset, x, y, w.rows, w.cols);
  RITSU_CUDA_CHECK_LAUNCH();
}

// ---- bf16 path: tensor-core GEMV (mma.sync m16n8k16, fp32 accumulation).
// Why: the fp32 CUDA-core loop above spends a table lookup per weight element plus, per batch
// row, a bf16->fp32 conversion and an FMA per element, so its cost grows with the batch (8B
// step on an H200: 3.85 ms at batch 1, 16.6 ms at batch 8). Here a 16x16 weight tile times a 16x8
// activation tile is one mma: the batch (1..8) is the mma's n dimension, so the weight bytes are
// read and decoded once for all batch rows, and the activations go into the B fragment as the
// raw bf16 pairs loaded from memory (no conversion).
//
// Work split: a block owns 16 output rows (a row tile) and its W warps (8 in variant 0) split the
// row's 64-blocks round-robin (warp w takes blocks w, w+W, ...; neighbouring warps read neighbouring 32-byte
// segments). Lane (g = lane/4, t = lane%4) holds rows g and g+8 of the tile; the 4 lanes of a
// quad read the 4 consecutive 8-byte pieces of one 64-block of their row, so each mma sums over
// one 64-block only and the block's absmax is applied once per mma output after the 4 mmas of
// the block (as in the fp32 kernel, the scale is factored out of the block's partial sum).
// The k order inside an mma is free as long as A and B agree: lane t's four mma-columns
// {2t, 2t+1, 2t+8, 2t+9} of mma j are the elements t*16 + 4j + {0,1,2,3} of the block.
//
// Decoding: a byte holds two codes (element 2i in the high nibble), which become one bf16x2
// register through a 256-entry table of packed unscaled levels. The table is replicated 32
// times in shared memory (entry e of lane l at word e*32 + l) so the 32 lanes' random lookups
// never share a bank: one conflict-free LDS per byte.
//
// Numerics: the levels are rounded to bf16 (relative error <= 2^-9) before the products, which
// are exact in the mma and summed in fp32, and the block's absmax is applied in fp32. The
// error is of the order of bitsandbytes' own bf16 dequantization (level*absmax rounded to
// bf16); kernels_gpu_test measures 1.6e-3..2.1e-3 relative against the fp32 CPU twin.
//
// Measured (H200, kernels_bench, 8B-shaped step of 252 GEMVs): batch 8 16.6 -> 4.4 ms, batch 4
// 10.6 -> 4.3 ms, batch 2 6.0 -> 4.2 ms; batch 1 4.1 ms, no faster than the CUDA-core kernel
// (3.85 ms), so nf4_gemv keeps that one for batch 1. The bound is the decoding (~3 instructions
// per code byte for the table lookups, plus the per-block absmax): ~1.4 TB/s on the largest
// projections whatever the launch shape (see the variant sweep).
constexpr int kTcRows = 16;  // rows per block tile = the mma's m
// Launch shapes (warps per block, 64-blocks per warp whose loads are in flight together); the
// engine uses variant 0, the others exist for the benchmark's sweep (nf4_gemv_variants.h).
struct TcShape {
  int warps, unroll;
  bool pipelined;  // nf4_gemv_tc2_kernel (loads of the next stage in flight during decoding)
};
constexpr TcShape kTcShapes[] = {{8, 4, false}, {8, 2, false}, {8, 8, false}, {4, 4, false},
                                 {4, 8, false}, {16, 2, false}, {8, 2, true},  {4, 2, true},
                                 {16, 2, true}, {8, 1, true}};
constexpr int kTcVariants = int(sizeof(kTcShapes) / sizeof(kTcShapes[0]));

__constant__ float c_nf4_levels[16] = {RITSU_NF4_LEVELS};

__device__ __forceinline__ void mma_bf16_16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                               uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ uint32_t pack_bf16x2(float lo, float hi) {
  const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);  // .x = lo = the lower address
  return *reinterpret_cast<const uint32_t*>(&v);
}

__device__ __forceinline__ float block_absmax(const uint8_t* __restrict__ absmax_q,
                                              const float* __restrict__ absmax_scale,
                                              const float* __restrict__ code, float offset,
                                              int64_t blk) {
  // Same operation order as the CPU twin and the dequantize kernel (no FMA contraction).
  return __fadd_rn(__fmul_rn(__ldg(code + __ldg(absmax_q + blk)), __ldg(absmax_scale + (blk >> 8))),
                   offset);
}

template <int kTcWarps, int kTcUnroll>
__global__ void __launch_bounds__(32 * kTcWarps, 16 / kTcWarps)
    nf4_gemv_tc_kernel(const uint8_t* __restrict__ packed, const uint8_t* __restrict__ absmax_q,
                       const float* __restrict__ absmax_scale, const float* __restrict__ code,
                       float offset, const bf16* __restrict__ x, bf16* __restrict__ y, int64_t N,
                       int64_t K, int batch) {
  __shared__ uint32_t lut[256 * 32];
  __shared__ float red[kTcWarps][kTcRows][8];
  for (int i = threadIdx.x; i < 256 * 32; i += blockDim.x) {
    const int byte = i >> 5;  // the same for a whole warp: constant-cache broadcast
    lut[i] = pack_bf16x2(c_nf4_levels[byte >> 4], c_nf4_levels[byte & 15]);
  }
  __syncthreads();
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int g = lane >> 2, t = lane & 3;
  const int64_t kblocks = K / 64;
  const int64_t tiles = (N + kTcRows - 1) / kTcRows;
  const uint32_t* my_lut = lut + lane;
  for (int64_t tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    const int64_t row_a = tile * kTcRows + g, row_b = row_a + 8;
    const bool ok_a = row_a < N, ok_b = row_b < N;
    const bool has_x = g < batch;
    float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int64_t kb0 = warp; kb0 < kblocks; kb0 += int64_t(kTcWarps) * kTcUnroll) {
      uint2 wa[kTcUnroll], wb[kTcUnroll];
      uint4 xv[kTcUnroll][2];
      float sa[kTcUnroll], sb[kTcUnroll];
#pragma unroll
      for (int u = 0; u < kTcUnroll; ++u) {
        const int64_t kb = kb0 + int64_t(u) * kTcWarps;
        const bool in_k = kb < kblocks;
        wa[u] = wb[u] = make_uint2(0u, 0u);
        xv[u][0] = xv[u][1] = make_uint4(0u, 0u, 0u, 0u);
        sa[u] = sb[u] = 0.0f;
        if (in_k && ok_a) {
          wa[u] = __ldg(reinterpret_cast<const uint2*>(packed + ((row_a * K + kb * 64) >> 1)) + t);
          sa[u] = block_absmax(absmax_q, absmax_scale, code, offset, row_a * kblocks + kb);
        }
        if (in_k && ok_b) {
          wb[u] = __ldg(reinterpret_cast<const uint2*>(packed + ((row_b * K + kb * 64) >> 1)) + t);
          sb[u] = block_absmax(absmax_q, absmax_scale, code, offset, row_b * kblocks + kb);
        }
        if (in_k && has_x) {
          const uint4* xp = reinterpret_cast<const uint4*>(x + int64_t(g) * K + kb * 64 + t * 16);
          xv[u][0] = __ldg(xp);
          xv[u][1] = __ldg(xp + 1);
        }
      }
#pragma unroll
      for (int u = 0; u < kTcUnroll; ++u) {
        const uint32_t xw[8] = {xv[u][0].x, xv[u][0].y, xv[u][0].z, xv[u][0].w,
                                xv[u][1].x, xv[u][1].y, xv[u][1].z, xv[u][1].w};
        const uint32_t ca[2] = {wa[u].x, wa[u].y}, cb[2] = {wb[u].x, wb[u].y};
        float d[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          // bytes 2j and 2j+1 of the lane's 8-byte piece: word j/2, byte offsets 2(j%2), +1
          const int sh = 16 * (j & 1);
          const uint32_t a_word = ca[j >> 1] >> sh, b_word = cb[j >> 1] >> sh;
          const uint32_t frag[4] = {my_lut[(a_word & 0xffu) << 5], my_lut[(b_word & 0xffu) << 5],
                                    my_lut[((a_word >> 8) & 0xffu) << 5],
                                    my_lut[((b_word >> 8) & 0xffu) << 5]};
          mma_bf16_16816(d, frag, xw[2 * j], xw[2 * j + 1]);
        }
        acc[0] = fmaf(sa[u], d[0], acc[0]);
        acc[1] = fmaf(sa[u], d[1], acc[1]);
        acc[2] = fmaf(sb[u], d[2], acc[2]);
        acc[3] = fmaf(sb[u], d[3], acc[3]);
      }
    }
    // d[0], d[1]: row g, batch columns 2t, 2t+1; d[2], d[3]: row g+8, same columns.
    red[warp][g][2 * t] = acc[0];
    red[warp][g][2 * t + 1] = acc[1];
    red[warp][g + 8][2 * t] = acc[2];
    red[warp][g + 8][2 * t + 1] = acc[3];
    __syncthreads();
    if (threadIdx.x < kTcRows * 8) {
      const int r = threadIdx.x >> 3, b = threadIdx.x & 7;
      const int64_t n = tile * kTcRows + r;
      if (b < batch && n < N) {
        float s = 0.0f;
#pragma unroll
        for (int w = 0; w < kTcWarps; ++w) s += red[w][r][b];
        store_f(&y[int64_t(b) * N + n], s);
      }
    }
    __syncthreads();  // red is rewritten by the next tile
  }
}

// ---- Pipelined variant of the kernel above (same tiles, same fragments, same numerics).
// Why: the kernel above waits for a warp's loads, then decodes them, so with 16 warps per SM
// the load latency and the ~3 instructions per code byte of decoding could add up instead of
// overlapping (the benchmark measured ~1.4 TB/s on the largest projections). Measured: no
// gain (variant 6: 4.02 ms against 3.88 ms for variant 0 at batch 1), so the decoding
// instructions, not the latency, are the bound; kept for the sweep. Here each warp
// issues the loads of its next stage (kU 64-blocks) before it decodes the current one, the
// 256-entry absmax code table sits in shared memory (no dependent global load per block), and
// the row, absmax and activation pointers are computed once per tile. Rows past N and blocks
// past K load the code byte 0x77 (two zero levels), so no mask is needed in the inner loop.
template <int kU>
struct Tc2Stage {
  uint2 wa[kU], wb[kU];    // 8 code bytes of rows g and g+8
  uint4 xa[kU], xb[kU];    // 16 activations of batch row g (zero when g >= batch)
  uint32_t qa[kU], qb[kU];  // 8-bit absmax indices
  float fa[kU], fb[kU];     // absmax of the 256-block of absmax
};

struct Tc2Rows {
  const uint2* pa;  // this lane's 8-byte piece of block 0 of row g (nullptr: row past N)
  const uint2* pb;  // same for row g+8
  int64_t blk_a, blk_b;  // absmax index of block 0 of each row
  const uint4* xp;  // this lane's 16 activations of block 0 (nullptr: g >= batch)
};

template <int kWarps, int kU>
__device__ __forceinline__ void tc2_load(Tc2Stage<kU>& st, const Tc2Rows& r, int kb0, int kblocks,
                                         const uint8_t* __restrict__ absmax_q,
                                         const float* __restrict__ absmax_scale) {
#pragma unroll
  for (int u = 0; u < kU; ++u) {
    const int kb = kb0 + u * kWarps;
    const bool in_k = kb < kblocks;
    st.wa[u] = st.wb[u] = make_uint2(0x77777777u, 0x77777777u);
    st.xa[u] = st.xb[u] = make_uint4(0u, 0u, 0u, 0u);
    st.qa[u] = st.qb[u] = 0u;
    st.fa[u] = st.fb[u] = 0.0f;
    if (in_k && r.pa) {
      st.wa[u] = __ldg(r.pa + 4 * kb);
      st.qa[u] = __ldg(absmax_q + r.blk_a + kb);
      st.fa[u] = __ldg(absmax_scale + ((r.blk_a + kb) >> 8));
    }
    if (in_k && r.pb) {
      st.wb[u] = __ldg(r.pb + 4 * kb);
      st.qb[u] = __ldg(absmax_q + r.blk_b + kb);
      st.fb[u] = __ldg(absmax_scale + ((r.blk_b + kb) >> 8));
    }
    if (in_k && r.xp) {
      st.xa[u] = __ldg(r.xp + 8 * kb);
      st.xb[u] = __ldg(r.xp + 8 * kb + 1);
    }
  }
}

template <int kU>
__device__ __forceinline__ void tc2_compute(const Tc2Stage<kU>& st, const uint32_t* my_lut,
                                            const float* s_code, float offset, float (&acc)[4]) {
#pragma unroll
  for (int u = 0; u < kU; ++u) {
    const uint32_t xw[8] = {st.xa[u].x, st.xa[u].y, st.xa[u].z, st.xa[u].w,
                            st.xb[u].x, st.xb[u].y, st.xb[u].z, st.xb[u].w};
    const uint32_t ca[2] = {st.wa[u].x, st.wa[u].y}, cb[2] = {st.wb[u].x, st.wb[u].y};
    float d[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int sh = 16 * (j & 1);
      const uint32_t a_word = ca[j >> 1] >> sh, b_word = cb[j >> 1] >> sh;
      const uint32_t frag[4] = {my_lut[(a_word & 0xffu) << 5], my_lut[(b_word & 0xffu) << 5],
                                my_lut[((a_word >> 8) & 0xffu) << 5],
                                my_lut[((b_word >> 8) & 0xffu) << 5]};
      mma_bf16_16816(d, frag, xw[2 * j], xw[2 * j + 1]);
    }
    // Same operation order as block_absmax (no FMA contraction).
    const float sa = __fadd_rn(__fmul_rn(s_code[st.qa[u]], st.fa[u]), offset);
    const float sb = __fadd_rn(__fmul_rn(s_code[st.qb[u]], st.fb[u]), offset);
    acc[0] = fmaf(sa, d[0], acc[0]);
    acc[1] = fmaf(sa, d[1], acc[1]);
    acc[2] = fmaf(sb, d[2], acc[2]);
    acc[3] = fmaf(sb, d[3], acc[3]);
  }
}

template <int kWarps, int kU>
__global__ void __launch_bounds__(32 * kWarps, 16 / kWarps)
    nf4_gemv_tc2_kernel(const uint8_t* __restrict__ packed, const uint8_t* __restrict__ absmax_q,
                        const float* __restrict__ absmax_scale, const float* __restrict__ code,
                        float offset, const bf16* __restrict__ x, bf16* __restrict__ y, int64_t N,
                        int64_t K, int batch) {
  __shared__ uint32_t lut[256 * 32];
  __shared__ float s_code[256];
  __shared__ float red[kWarps][kTcRows][8];
  for (int i = threadIdx.x; i < 256 * 32; i += blockDim.x) {
    const int byte = i >> 5;  // the same for a whole warp: constant-cache broadcast
    lut[i] = pack_bf16x2(c_nf4_levels[byte >> 4], c_nf4_levels[byte & 15]);
  }
  for (int i = threadIdx.x; i < 256; i += blockDim.x) s_code[i] = code[i];
  __syncthreads();
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int g = lane >> 2, t = lane & 3;
  const int kblocks = int(K / 64);
  const int64_t tiles = (N + kTcRows - 1) / kTcRows;
  const uint32_t* my_lut = lut + lane;
  for (int64_t tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    const int64_t row_a = tile * kTcRows + g, row_b = row_a + 8;
    Tc2Rows r;
    r.pa = row_a < N ? reinterpret_cast<const uint2*>(packed + ((row_a * K) >> 1)) + t : nullptr;
    r.pb = row_b < N ? reinterpret_cast<const uint2*>(packed + ((row_b * K) >> 1)) + t : nullptr;
    r.blk_a = row_a * kblocks;
    r.blk_b = row_b * kblocks;
    r.xp = g < batch ? reinterpret_cast<const uint4*>(x + int64_t(g) * K) + 2 * t : nullptr;
    float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    Tc2Stage<kU> cur, nxt;
    int kb0 = warp;
    tc2_load<kWarps, kU>(cur, r, kb0, kblocks, absmax_q, absmax_scale);
    while (kb0 < kblocks) {
      const int next = kb0 + kWarps * kU;
      if (next < kblocks) tc2_load<kWarps, kU>(nxt, r, next, kblocks, absmax_q, absmax_scale);
      tc2_compute<kU>(cur, my_lut, s_code, offset, acc);
      cur = nxt;
      kb0 = next;
    }
    red[warp][g][2 * t] = acc[0];
    red[warp][g][2 * t + 1] = acc[1];
    red[warp][g + 8][2 * t] = acc[2];
    red[warp][g + 8][2 * t + 1] = acc[3];
    __syncthreads();
    if (threadIdx.x < kTcRows * 8) {
      const int rr = threadIdx.x >> 3, b = threadIdx.x & 7;
      const int64_t n = tile * kTcRows + rr;
      if (b < batch && n < N) {
        float s = 0.0f;
#pragma unroll
        for (int w = 0; w < kWarps; ++w) s += red[w][rr][b];
        store_f(&y[int64_t(b) * N + n], s);
      }
    }
    __syncthreads();  // red is rewritten by the next tile
  }
}

template <int kTcWarps, int kTcUnroll, bool kPipelined>
void launch_tc_shape(const Nf4Tensor& w, const bf16* x, bf16* y, int64_t batch, Stream s) {
  using Kernel = void (*)(const uint8_t*, const uint8_t*, const float*, const float*, float, const bf16*,
                         bf16*, int64_t, int64_t, int);
  Kernel kernel = nullptr;
  if constexpr (kPipelined) {
    kernel = nf4_gemv_tc2_kernel<kTcWarps, kTcUnroll>;
  } else {
    kernel = nf4_gemv_tc_kernel<kTcWarps, kTcUnroll>;
  }
  // Resident blocks per SM and SM count, looked up once per device: a grid of at most one
  // wave of resident blocks that loop over the row tiles, so the 32 KiB decode table is built
  // once per block rather than once per tile.
  thread_local int slots[64] = {};  // per launch shape (a template instance)
  int device = 0;
  RITSU_CUDA_CHECK(cudaGetDevice(&device));
  int& cap = slots[device & 63];
  if (cap == 0) {
    int sms = 0, per_sm = 0;
    RITSU_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
    RITSU_CUDA_CHECK(
        cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, 32 * kTcWarps, 0));
    cap = sms * (per_sm > 0 ? per_sm : 1);
  }
  const int64_t tiles = (w.rows + kTcRows - 1) / kTcRows;
  const unsigned grid = unsigned(tiles < cap ? tiles : cap);
  kernel<<<grid, 32 * kTcWarps, 0, stream(s)>>>(
      w.packed, w.absmax_q, w.absmax_scale, w.absmax_code, w.absmax_offset, x, y, w.rows, w.cols,
      int(batch));
  RITSU_CUDA_CHECK_LAUNCH();
}

template <int V>
void launch_tc_variant(const Nf4Tensor& w, const bf16* x, bf16* y, int64_t batch, Stream s) {
  launch_tc_shape<kTcShapes[V].warps, kTcShapes[V].unroll, kTcShapes[V].pipelined>(w, x, y, batch, s);
}

void launch_tc(int variant, const Nf4Tensor& w, const bf16* x, bf16* y, int64_t batch, Stream s) {
  switch (variant) {
    case 1: launch_tc_variant<1>(w, x, y, batch, s); break;
    case 2: launch_tc_variant<2>(w, x, y, batch, s); break;
    case 3: launch_tc_variant<3>(w, x, y, batch, s); break;
    case 4: launch_tc_variant<4>(w, x, y, batch, s); break;
    case 5: launch_tc_variant<5>(w, x, y, batch, s); break;
    case 6: launch_tc_variant<6>(w, x, y, batch, s); break;
    case 7: launch_tc_variant<7>(w, x, y, batch, s); break;
    case 8: launch_tc_variant<8>(w, x, y, batch, s); break;
    case 9: launch_tc_variant<9>(w, x, y, batch, s); break;
    default: launch_tc_variant<0>(w, x, y, batch, s); break;
  }
}
static_assert(kTcVariants == 10, "launch_tc's switch lists every variant");

}  // namespace

template <class T>
void nf4_gemv(const Nf4Tensor& w, const T* x, T* y, int64_t batch, Stream s) {
  if (w.rows <= 0 || batch <= 0) return;
  RITSU_KERNEL_REQUIRE(w.cols % kNf4BlockSize == 0);
  RITSU_KERNEL_REQUIRE(batch >= 1 && batch <= 8);
  RITSU_KERNEL_REQUIRE((reinterpret_cast<uintptr_t>(w.packed) & 15u) == 0);
  RITSU_KERNEL_REQUIRE((reinterpret_cast<uintptr_t>(x) & 15u) == 0);
  if constexpr (std::is_same_v<T, bf16>) {
    // Batch 1 stays on the CUDA-core kernel: on an H200 it ran the 8B-shaped decode step in
    // 3.85 ms against 4.07-4.11 ms for the tensor-core kernel; from batch 2 the tensor-core
    // kernel wins (batch 8: 4.37 ms against 16.6 ms) since it reads the weight once for all rows.
    if (batch >= 2) {
      RITSU_KERNEL_REQUIRE((reinterpret_cast<uintptr_t>(w.packed) & 7u) == 0);
      launch_tc(0, w, x, y, batch, s);
      return;
    }
  }
  switch (batch) {
    case 1: launch<T, 1>(w, x, y, s); break;
    case 2: launch<T, 2>(w, x, y, s); break;
    case 3: launch<T, 3>(w, x, y, s); break;
    case 4: launch<T, 4>(w, x, y, s); break;
    case 5: launch<T, 5>(w, x, y, s); break;
    case 6: launch<T, 6>(w, x, y, s); break;
    case 7: launch<T, 7>(w, x, y, s); break;
    default: launch<T, 8>(w, x, y, s); break;
  }
}

namespace detail {
int nf4_gemv_bf16_variants() { return kTcVariants; }
std::string nf4_gemv_bf16_variant_name(int v) {
  const TcShape& t = kTcShapes[v < 0 || v >= kTcVariants ? 0 : v];
  return std::to_string(t.warps) + " warps x " + std::to_string(t.unroll) + " blocks" +
         (t.pipelined ? " per stage, next stage in flight" : " in flight");
}
void nf4_gemv_bf16_variant(int variant, const Nf4Tensor& w, const bf16* x, bf16* y, int64_t batch,
                           Stream s) {
  RITSU_KERNEL_REQUIRE(variant >= 0 && variant < kTcVariants);
  RITSU_KERNEL_REQUIRE(w.cols % kNf4BlockSize == 0 && batch >= 1 && batch <= 8);
  RITSU_KERNEL_REQUIRE((reinterpret_cast<uintptr_t>(w.packed) & 7u) == 0);
  RITSU_KERNEL_REQUIRE((reinterpret_cast<uintptr_t>(x) & 15u) == 0);
  if (w.rows > 0) launch_tc(variant, w, x, y, batch, s);
}
}  // namespace detail

template void nf4_gemv<float>(const Nf4Tensor&, const float*, float*, int64_t, Stream);
template void nf4_gemv<bf16>(const Nf4Tensor&, const bf16*, bf16*, int64_t, Stream);

}  // namespace ritsu::kernels::cuda
