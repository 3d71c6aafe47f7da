// Tensor-core prefill attention backward (bf16, head_dim 64 or 128), included by
// flash_attention.cu after flash_fwd_mma.cuh (whose cp.async / ldmatrix / mma helpers and
// fragment-layout notes it uses).
//
// The gradients, per (sequence, query head), with S = Q K^T, P = exp(scale*S - lse) (the
// forward's probabilities, recomputed from its lse), D = rowsum(dO * O):
//   dV  = P^T dO                      (summed over the query heads of a GQA group)
//   dP  = dO V^T
//   dS  = P * (dP - D)                (elementwise; D broadcast along each query row)
//   dK  = scale * dS^T Q              (summed over the group's heads)
//   dQ  = scale * dS K
// exactly what the CPU twin computes (it folds `scale` into dS; here it is applied once, to the
// dK accumulator and in the dQ conversion, so the bf16 rounding of dS is the same).
//
// Three launches, none needs a host synchronization (sizes come from cu_seqlens on the device,
// buffers are sized from batch * max_seqlen_q):
//  1. flash_bwd_prep_kernel: D for every (query, head) into a fp32 scratch [n_heads, total_q]
//     (the lse layout), zeroes the fp32 dQ accumulator and the dk/dv outputs.
//  2. flash_bwd_mma_kernel: FlashAttention-2's loop order. A block owns kBK = 64 keys of one
//     (sequence, query head): K and V of that tile stay in shared memory, dK and dV in
//     registers, while the block walks the query tiles (kBQ = 64 rows, cp.async
//     double-buffered Q, dO, lse and D) from the first one that sees its keys to the end of
//     the sequence. Causal tiles above the diagonal are never visited. dQ of each query tile
//     is reduced across key tiles with fp32 atomics (red.global.add.v2.f32 on sm_90) into the
//     scratch. At the end the block adds its dK/dV into dk/dv with fp32 atomics too: the
//     group's query heads are separate blocks, not a loop inside one block, because with a
//     causal mask key tile 0 has (seq_len / 64) query tiles of work and the last key tile one;
//     the head loop would make the longest block group-times longer still, while one block per
//     head gives the scheduler 4-8x more, shorter pieces (longest first) to balance across the
//     SMs. The extra cost is one atomic add per dK/dV element per head.
//  3. flash_bwd_dq_kernel: dq = bf16(scale * accumulator).
//
// Inside the main kernel, 4 warps each own 16 of the 64 keys and compute, per query tile,
// transposed products so that everything a warp accumulates stays in its registers:
//   S^T  = K_w Q^T   (16 x 64)   A = K rows (ldmatrix), B = Q rows (ldmatrix, as K in the fwd)
//   dP^T = V_w dO^T  (16 x 64)   same with V and dO
//   P^T, dS^T elementwise in the accumulator layout (lse and D are per column = per query)
//   dV_w += P^T dO   (16 x HD)   A = P^T straight from the accumulators (bf16-packed; the
//                                m16n8k16 C and A fragments line up), B = dO (ldmatrix.trans)
//   dK_w += dS^T Q   (16 x HD)   same with dS^T and Q
// dS^T goes to shared memory ([key][query], bf16) and, after a barrier, each warp computes
// a quarter of the head_dim columns of dQ = dS K (64 x HD/4; A = dS via ldmatrix.trans of
// the stored dS^T, B = K via ldmatrix.trans) and adds it to the scratch.
// Registers (head_dim 128): dK + dV accumulators 128, plus S^T/P^T and dP^T/dS^T of half a
// query tile (16 + 16; see the S^T step) and half of the dQ quarter (32): 251 registers, no
// spills, two blocks of 128 threads (112 KiB of shared memory each) per SM. Head_dim 64: three
// blocks per SM (64 KiB each; ptxas spills a few bytes at the 168-register cap).
//
// Two variants (template parameter DoBufs): Q and dO double-buffered (DoBufs = 2, the default
// wherever it fits), or dO single-buffered (DoBufs = 1: 95 KiB instead of 112 at head_dim 128,
// within the 99 KiB per block of sm_86/sm_89, the lab's RTX 3080). dO is last read by the
// dP^T and dV products, before the barrier that publishes dS^T, so the single buffer is
// refilled with the next tile's dO right after that barrier: its load overlaps the dQ product
// instead of the whole tile's math (Q, lse and D stay double-buffered). Same arithmetic; the
// results differ only by the order of the fp32 atomic additions. On an H200 (two blocks per
// SM either way) both take 0.30 ms at the trainer's shape: the other block hides the load.
// Head_dim 128 with one buffer: 254-255 registers, an 8-byte spill.
// Measured on an H100 at the trainer's shape (2 x 1024 tokens, 32/8 heads, head_dim 128):
// 310-323 us, 133-139 TFLOP/s counting 2.5x the forward's FLOPs (forward 89-97 us). The limit is the
// shared-memory operand traffic: ~0.6 ldmatrix.x4 per mma, twice the forward's ratio.
#pragma once

#include <cuda_bf16.h>

#include <cstdint>

#include "kernels/attention/flash_bwd_select.h"
#include "kernels/attention/flash_fwd_mma.cuh"

namespace ritsu::kernels::cuda::flash_mma_bwd {

using flash_mma::cp_async16;
using flash_mma::cp_async_commit;
using flash_mma::cp_async_wait;
using flash_mma::fast_exp2;
using flash_mma::ldmatrix_x4;
using flash_mma::ldmatrix_x4_trans;
using flash_mma::mma_bf16;
using flash_mma::pack_bf16;
using flash_mma::smem_addr;

constexpr int kBK = flash_bwd_layout::kBK;  // keys per block
constexpr int kBQ = flash_bwd_layout::kBQ;  // query rows per tile of the inner loop
constexpr int kWarps = 4;     // 16 keys each
constexpr int kThreads = 32 * kWarps;
constexpr int kPrepRows = 4;  // query rows per block of the prep kernel
constexpr float kLog2e = 1.4426950408889634f;

template <int HD, int DoBufs>
struct Smem {
  static constexpr int kLd = HD + 8;          // bf16 per row of K, V, Q, dO (= flash_mma::Smem<HD>::kLd)
  static constexpr int kTile = kBK * kLd;     // elements of one 64-row tile (kBQ == kBK)
  static constexpr int kLdS = kBQ + 8;        // bf16 per row of dS^T: +16 bytes against bank conflicts
  // K, V, Q[2], dO[DoBufs] (bf16 tiles), then dS^T (bf16), then lse[2], D[2] (fp32, 64 each).
  static constexpr size_t kDsOffset = size_t(4 + DoBufs) * kTile * 2;
  static constexpr size_t kStatOffset = kDsOffset + size_t(kBK) * kLdS * 2;
  static constexpr size_t kBytes = kStatOffset + size_t(4) * kBQ * 4;
  static_assert(kLd == flash_mma::Smem<HD>::kLd, "load_tile_async writes rows of Smem<HD>::kLd");
  static_assert(kBQ == kBK, "Q/dO tiles share the K/V tile size");
  static_assert(DoBufs == 1 || DoBufs == 2, "one or two dO buffers");
  static_assert(kBytes == flash_bwd_layout::smem_bytes(HD, DoBufs),
                "the host's kernel choice (flash_bwd_select.h) sizes this layout");
};

// 4-byte async copy (lse, D); src_bytes = 0 zero-fills.
__device__ __forceinline__ void cp_async4(void* dst, const void* src, int src_bytes) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(smem_addr(dst)), "l"(src),
               "r"(src_bytes));
}

// p[0..1] += (a, b): one 8-byte vector reduction on sm_90, two scalar ones before.
__device__ __forceinline__ void atomic_add2(float* p, float a, float b) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  atomicAdd(reinterpret_cast<float2*>(p), make_float2(a, b));
#else
  atomicAdd(p, a);
  atomicAdd(p + 1, b);
#endif
}

// acc (16 x NQ) = A (16 rows at sA, row-major [row][d]) * B^T (NQ rows at sB, [row][d]):
// S^T = K_w Q^T and dP^T = V_w dO^T for NQ queries.
template <int HD, int NQ>
__device__ __forceinline__ void rows_times_tile_t(float (&acc)[NQ / 8][4],
                                                  const __nv_bfloat16* sA,
                                                  const __nv_bfloat16* sB, int lane) {
  constexpr int kLd = HD + 8;  // Smem<HD, *>::kLd
  const int mat = lane >> 3;
  const int a_row = (lane & 7) + (mat & 1) * 8, a_col = (mat >> 1) * 8;
  const int b_row = (lane & 7) + (mat >> 1) * 8, b_col = (mat & 1) * 8;
#pragma unroll
  for (int n = 0; n < NQ / 8; ++n) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.0f;
#pragma unroll
  for (int d = 0; d < HD / 16; ++d) {
    uint32_t a[4];
    ldmatrix_x4(a, sA + a_row * kLd + d * 16 + a_col);
#pragma unroll
    for (int n = 0; n < NQ / 8; n += 2) {
      uint32_t b[4];  // b0,b1 of query tile n, then of n+1
      ldmatrix_x4(b, sB + (n * 8 + b_row) * kLd + d * 16 + b_col);
      mma_bf16(acc[n], a, b[0], b[1]);
      mma_bf16(acc[n + 1], a, b[2], b[3]);
    }
  }
}

// acc (16 x HD) += X (16 x NQ, bf16 pairs in accumulator layout: x[n][0] row g, x[n][1] row
// g+8, columns 8n+2c, +1) * B (NQ rows at sB, [row][d]): dV += P^T dO and dK += dS^T Q.
template <int HD, int NQ>
__device__ __forceinline__ void tile_times_rows(float (&acc)[HD / 8][4],
                                                const uint32_t (&x)[NQ / 8][2],
                                                const __nv_bfloat16* sB, int lane) {
  constexpr int kLd = HD + 8;  // Smem<HD, *>::kLd
  const int mat = lane >> 3;
  const int row_off = (lane & 7) + (mat & 1) * 8, col_off = (mat >> 1) * 8;
#pragma unroll
  for (int kk = 0; kk < NQ / 16; ++kk) {
    const uint32_t a[4] = {x[2 * kk][0], x[2 * kk][1], x[2 * kk + 1][0], x[2 * kk + 1][1]};
#pragma unroll
    for (int n = 0; n < HD / 8; n += 2) {
      uint32_t b[4];  // b0,b1 of d tile n, then of n+1
      ldmatrix_x4_trans(b, sB + (kk * 16 + row_off) * kLd + n * 8 + col_off);
      mma_bf16(acc[n], a, b[0], b[1]);
      mma_bf16(acc[n + 1], a, b[2], b[3]);
    }
  }
}

// D[h, t] = sum_d dO[t, h, d] * O[t, h, d] for the block's kPrepRows query rows of sequence
// blockIdx.y; zeroes their dQ accumulator rows, and (grid-stride over the sequence's keys, which
// may outnumber its queries) the sequence's dk/dv rows. HD/8 threads per (row, head), 16 bytes
// each.
template <int HD>
__global__ void __launch_bounds__(256)
    flash_bwd_prep_kernel(const __nv_bfloat16* __restrict__ out,
                          const __nv_bfloat16* __restrict__ dout, float* __restrict__ delta,
                          float* __restrict__ dq_acc, float* __restrict__ dk,
                          float* __restrict__ dv, const int32_t* __restrict__ cu_q,
                          const int32_t* __restrict__ cu_k, int n_heads, int n_kv_heads) {
  constexpr int kLanes = HD / 8;  // divides 32: a (row, head) is reduced within one warp
  constexpr int kPairsPerStep = 256 / kLanes;
  const int b = blockIdx.y;
  const int q0 = cu_q[b], lq = cu_q[b + 1] - q0;
  const int k0 = cu_k[b], lk = cu_k[b + 1] - k0;
  const int total_q = cu_q[gridDim.y];
  const int row0 = blockIdx.x * kPrepRows;
  const int sub = threadIdx.x % kLanes;
  const int pairs = kPrepRows * n_heads;
  // Uniform trip count across the block: the shuffles need every lane of the segment.
  for (int base = 0; base < pairs; base += kPairsPerStep) {
    const int p = base + threadIdx.x / kLanes;
    const int i = row0 + p / n_heads, h = p % n_heads;
    const bool valid = p < pairs && i < lq;
    float dot = 0.0f;
    const int64_t off = (int64_t(q0 + i) * n_heads + h) * HD + sub * 8;
    if (valid) {
      const uint4 o4 = *reinterpret_cast<const uint4*>(out + off);
      const uint4 g4 = *reinterpret_cast<const uint4*>(dout + off);
      const __nv_bfloat162* o2 = reinterpret_cast<const __nv_bfloat162*>(&o4);
      const __nv_bfloat162* g2 = reinterpret_cast<const __nv_bfloat162*>(&g4);
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const float2 of = __bfloat1622float2(o2[e]), gf = __bfloat1622float2(g2[e]);
        dot = fmaf(of.x, gf.x, dot);
        dot = fmaf(of.y, gf.y, dot);
      }
      float4* z = reinterpret_cast<float4*>(dq_acc + off);
      z[0] = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
      z[1] = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    }
#pragma unroll
    for (int o = kLanes / 2; o > 0; o >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, o);
    if (valid && sub == 0) delta[int64_t(h) * total_q + q0 + i] = dot;
  }
  const int row4 = n_kv_heads * HD / 4;  // float4 per dk/dv row
  for (int r0 = row0; r0 < lk; r0 += gridDim.x * kPrepRows) {
    for (int c = threadIdx.x; c < kPrepRows * row4; c += blockDim.x) {
      const int r = r0 + c / row4;
      if (r >= lk) break;
      const int64_t off = int64_t(k0 + r) * row4 + c % row4;
      reinterpret_cast<float4*>(dk)[off] = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
      reinterpret_cast<float4*>(dv)[off] = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    }
  }
}

// dq = bf16(scale * dq_acc) for the first cu_q[batch] rows, 8 elements per thread and step.
__global__ void __launch_bounds__(256)
    flash_bwd_dq_kernel(const float* __restrict__ dq_acc, __nv_bfloat16* __restrict__ dq,
                        const int32_t* __restrict__ cu_q, int batch, int64_t row_elems,
                        float scale) {
  const int64_t n8 = int64_t(cu_q[batch]) * row_elems / 8;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n8;
       i += int64_t(gridDim.x) * blockDim.x) {
    const float4 a = reinterpret_cast<const float4*>(dq_acc)[2 * i];
    const float4 b = reinterpret_cast<const float4*>(dq_acc)[2 * i + 1];
    uint4 o;
    o.x = pack_bf16(a.x * scale, a.y * scale);
    o.y = pack_bf16(a.z * scale, a.w * scale);
    o.z = pack_bf16(b.x * scale, b.y * scale);
    o.w = pack_bf16(b.z * scale, b.w * scale);
    reinterpret_cast<uint4*>(dq)[i] = o;
  }
}

// Grid: x = query head (fastest: a GQA group's blocks run together and share K/V through L2),
// y = sequence, z = key tile, tile 0 first: with the causal mask the first key tiles see the
// most query tiles, so the longest blocks start first. Key tiles z, z + gridDim.z, ... (more
// than one only where a sequence has more keys than max_seqlen_q, a cached prefix).
template <int HD, int DoBufs>
__global__ void __launch_bounds__(kThreads, HD == 128 ? 2 : 3)
    flash_bwd_mma_kernel(const __nv_bfloat16* __restrict__ q, const __nv_bfloat16* __restrict__ k,
                         const __nv_bfloat16* __restrict__ v,
                         const __nv_bfloat16* __restrict__ dout, const float* __restrict__ lse,
                         const float* __restrict__ delta, float* __restrict__ dq_acc,
                         float* __restrict__ dk, float* __restrict__ dv,
                         const int32_t* __restrict__ cu_q, const int32_t* __restrict__ cu_k,
                         int n_heads, int n_kv_heads, int64_t q_stride, int64_t kv_stride,
                         float scale, float scale_log2) {
  using S = Smem<HD, DoBufs>;
  constexpr int kLd = S::kLd;
  constexpr int kLdS = S::kLdS;
  constexpr int kHalf = kBQ / 2;  // queries per half tile (see the S^T step)
  constexpr int kN = kHalf / 8;   // n-tiles of a half tile's S^T (query columns)
  constexpr int kD = HD / 8;    // n-tiles of dK/dV (head_dim columns)
  constexpr int kDQ = HD / 32;  // n-tiles of a warp's quarter of dQ

  const int h = blockIdx.x;
  const int b = blockIdx.y;
  // In-sequence indices are int (cu_seqlens are int32); pointer offsets are int64.
  const int q0 = cu_q[b], lq = cu_q[b + 1] - q0;
  const int k0 = cu_k[b], lk = cu_k[b + 1] - k0;
  const int total_q = cu_q[gridDim.y];
  const int kvh = h / (n_heads / n_kv_heads);
  const int shift = lk - lq;  // query i sees keys j <= i + shift
  const int q_tiles = (lq + kBQ - 1) / kBQ;

  extern __shared__ __align__(128) unsigned char smem_raw[];
  __nv_bfloat16* sK = reinterpret_cast<__nv_bfloat16*>(smem_raw);
  __nv_bfloat16* sV = sK + S::kTile;
  __nv_bfloat16* sQ = sV + S::kTile;   // two buffers
  __nv_bfloat16* sdO = sQ + 2 * S::kTile;  // DoBufs buffers
  __nv_bfloat16* sdS = reinterpret_cast<__nv_bfloat16*>(smem_raw + S::kDsOffset);
  float* sLse = reinterpret_cast<float*>(smem_raw + S::kStatOffset);  // two buffers of kBQ
  float* sDelta = sLse + 2 * kBQ;                                     // two buffers of kBQ

  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int g = lane >> 2, c4 = lane & 3;
  const int mat = lane >> 3;

  const int64_t dout_stride = int64_t(n_heads) * HD;
  const __nv_bfloat16* q_head = q + int64_t(q0) * q_stride + int64_t(h) * HD;
  const __nv_bfloat16* do_head = dout + int64_t(q0) * dout_stride + int64_t(h) * HD;
  const float* lse_row = lse + int64_t(h) * total_q + q0;
  const float* delta_row = delta + int64_t(h) * total_q + q0;

  // dO of query tile qt into buffer buf (0 with one buffer); rows past lq are zero-filled.
  auto load_do_tile = [&](int qt, int buf) {
    const int m0 = qt * kBQ;
    const int rows = lq - m0 < kBQ ? lq - m0 : kBQ;
    flash_mma::load_tile_async<HD, kThreads>(sdO + (DoBufs == 2 ? buf : 0) * S::kTile,
                                             do_head + int64_t(m0) * dout_stride, dout_stride,
                                             kBQ, rows);
  };
  // Q, lse and D (and, double-buffered, dO) of query tile qt into buffer buf.
  auto load_q_tile = [&](int qt, int buf) {
    const int m0 = qt * kBQ;
    const int rows = lq - m0 < kBQ ? lq - m0 : kBQ;
    flash_mma::load_tile_async<HD, kThreads>(sQ + buf * S::kTile, q_head + int64_t(m0) * q_stride,
                                             q_stride, kBQ, rows);
    if (DoBufs == 2) load_do_tile(qt, buf);
    const int r = threadIdx.x & (kBQ - 1);
    const bool in = r < rows;
    if (threadIdx.x < kBQ)
      cp_async4(sLse + buf * kBQ + r, lse_row + (in ? m0 + r : 0), in ? 4 : 0);
    else
      cp_async4(sDelta + buf * kBQ + r, delta_row + (in ? m0 + r : 0), in ? 4 : 0);
  };

  for (int kt = blockIdx.z; kt * kBK < lk; kt += gridDim.z) {
    const int j0 = kt * kBK;
    // First query tile with a row that sees key j0 (query i sees j0 iff i >= j0 - shift).
    const int first_row = j0 - shift > 0 ? j0 - shift : 0;
    const int qt_begin = first_row / kBQ;
    if (qt_begin >= q_tiles) continue;  // no query sees these keys: dk/dv stay zero

    __syncthreads();  // a previous key tile's K/V (read by the dQ step) is fully consumed
    {
      const int valid = lk - j0 < kBK ? lk - j0 : kBK;
      flash_mma::load_tile_async<HD, kThreads>(sK, k + int64_t(k0 + j0) * kv_stride + int64_t(kvh) * HD,
                                               kv_stride, kBK, valid);
      flash_mma::load_tile_async<HD, kThreads>(sV, v + int64_t(k0 + j0) * kv_stride + int64_t(kvh) * HD,
                                               kv_stride, kBK, valid);
    }
    load_q_tile(qt_begin, 0);
    if (DoBufs == 1) load_do_tile(qt_begin, 0);
    cp_async_commit();

    const int warp_key0 = j0 + warp * 16;  // this warp's first key; rows g and g+8 of 16
    float dk_acc[kD][4], dv_acc[kD][4];
#pragma unroll
    for (int n = 0; n < kD; ++n)
#pragma unroll
      for (int e = 0; e < 4; ++e) dk_acc[n][e] = dv_acc[n][e] = 0.0f;

    for (int qt = qt_begin; qt < q_tiles; ++qt) {
      const int buf = (qt - qt_begin) & 1;
      cp_async_wait<0>();  // tile qt (and, on entry, K/V) has landed for this thread...
      __syncthreads();     // ...and for all; every warp is done with tile qt-1 and its dS
      if (qt + 1 < q_tiles) load_q_tile(qt + 1, buf ^ 1);  // overlaps this tile's math
      cp_async_commit();

      const __nv_bfloat16* q_t = sQ + buf * S::kTile;
      const __nv_bfloat16* do_t = sdO + (DoBufs == 2 ? buf : 0) * S::kTile;
      const float* lse_t = sLse + buf * kBQ;
      const float* delta_t = sDelta + buf * kBQ;
      const int m0 = qt * kBQ;
      const int last_row = (m0 + kBQ < lq ? m0 + kBQ : lq) - 1;
      // Does any (key, query) pair of this warp's 16 keys and this tile survive the masks?
      const bool active = warp_key0 < lk && warp_key0 <= last_row + shift;
      if (active) {
        // Mask only where the tile crosses the diagonal of its first query or an end.
        const bool need_mask =
            warp_key0 + 15 > m0 + shift || warp_key0 + 16 > lk || m0 + kBQ > lq;
        // Two halves of 32 queries: S^T/P^T and dP^T/dS^T of all 64 would not fit in
        // registers next to dK and dV for head_dim 128 (K_w and V_w fragments are read twice
        // instead).
#pragma unroll 1
        for (int half = 0; half < 2; ++half) {
          const int c0 = half * kHalf;  // first query column of the half, within the tile
          float p[kN][4], ds[kN][4];
          rows_times_tile_t<HD, kHalf>(p, sK + warp * 16 * kLd, q_t + c0 * kLd, lane);  // S^T
#pragma unroll
          for (int n = 0; n < kN; ++n) {
            const int col = c0 + n * 8 + 2 * c4;
            const float2 l2 = *reinterpret_cast<const float2*>(lse_t + col);
            const float la = l2.x * kLog2e, lb = l2.y * kLog2e;
            p[n][0] = fast_exp2(fmaf(p[n][0], scale_log2, -la));
            p[n][1] = fast_exp2(fmaf(p[n][1], scale_log2, -lb));
            p[n][2] = fast_exp2(fmaf(p[n][2], scale_log2, -la));
            p[n][3] = fast_exp2(fmaf(p[n][3], scale_log2, -lb));
            if (need_mask) {
              // Select, never multiply: lse is -inf for a row that sees no key (exp2 -> inf)
              // and zero-filled past lq.
#pragma unroll
              for (int e = 0; e < 4; ++e) {
                const int i = m0 + col + (e & 1);
                const int j = warp_key0 + g + (e >> 1) * 8;
                if (!(i < lq && j < lk && j <= i + shift)) p[n][e] = 0.0f;
              }
            }
          }
          rows_times_tile_t<HD, kHalf>(ds, sV + warp * 16 * kLd, do_t + c0 * kLd, lane);  // dP^T
          uint32_t pp[kN][2], dsp[kN][2];  // bf16 pairs: [0] key row g, [1] key row g+8
#pragma unroll
          for (int n = 0; n < kN; ++n) {
            const int col = c0 + n * 8 + 2 * c4;
            const float2 d2 = *reinterpret_cast<const float2*>(delta_t + col);
            ds[n][0] = p[n][0] * (ds[n][0] - d2.x);
            ds[n][1] = p[n][1] * (ds[n][1] - d2.y);
            ds[n][2] = p[n][2] * (ds[n][2] - d2.x);
            ds[n][3] = p[n][3] * (ds[n][3] - d2.y);
            pp[n][0] = pack_bf16(p[n][0], p[n][1]);
            pp[n][1] = pack_bf16(p[n][2], p[n][3]);
            dsp[n][0] = pack_bf16(ds[n][0], ds[n][1]);
            dsp[n][1] = pack_bf16(ds[n][2], ds[n][3]);
            // dS^T to shared memory for dQ: rows = keys, 4-byte stores, conflict-free (kLdS).
            *reinterpret_cast<uint32_t*>(sdS + (warp * 16 + g) * kLdS + col) = dsp[n][0];
            *reinterpret_cast<uint32_t*>(sdS + (warp * 16 + g + 8) * kLdS + col) = dsp[n][1];
          }
          tile_times_rows<HD, kHalf>(dv_acc, pp, do_t + c0 * kLd, lane);  // dV_w += P^T dO
          tile_times_rows<HD, kHalf>(dk_acc, dsp, q_t + c0 * kLd, lane);  // dK_w += dS^T Q
        }
      } else {
        // Keys masked for the whole tile: their dS rows are zero.
        for (int w = lane; w < 16 * (kBQ / 2); w += 32)
          reinterpret_cast<uint32_t*>(sdS + (warp * 16 + w / (kBQ / 2)) * kLdS)[w % (kBQ / 2)] = 0u;
      }
      __syncthreads();  // dS^T of all 64 keys is in shared memory; every warp is done with dO
      if (DoBufs == 1 && qt + 1 < q_tiles) {
        load_do_tile(qt + 1, 0);  // overlaps the dQ product
        cp_async_commit();
      }

      // dQ[:, warp's quarter of head_dim] = dS (64 x 64 keys) K (64 keys x HD/4), in two halves
      // of 32 query rows: the accumulators of all 64 rows would not fit next to dK and dV for
      // head_dim 128 (K's fragments are read twice instead, 4 KiB per warp).
      {
        // A = dS (rows = queries) read transposed out of dS^T: matrix (q +8*(mat&1), key
        // +8*(mat>>1)) -> a0..a3 in the A-fragment order.
        const int a_key = (lane & 7) + (mat >> 1) * 8, a_q = (mat & 1) * 8;
        const int b_key = (lane & 7) + (mat & 1) * 8, b_d = (mat >> 1) * 8;
        const int dcol0 = warp * (HD / 4);
        float* dq_base = dq_acc + (int64_t(q0) * n_heads + h) * HD + dcol0 + 2 * c4;
#pragma unroll
        for (int half = 0; half < 2; ++half) {
          constexpr int kM = kBQ / 32;  // m16 tiles per half
          float dq[kM][kDQ][4];
#pragma unroll
          for (int mt = 0; mt < kM; ++mt)
#pragma unroll
            for (int n = 0; n < kDQ; ++n) dq[mt][n][0] = dq[mt][n][1] = dq[mt][n][2] = dq[mt][n][3] = 0.0f;
#pragma unroll
          for (int kk = 0; kk < kBK / 16; ++kk) {
            uint32_t a[kM][4];
#pragma unroll
            for (int mt = 0; mt < kM; ++mt)
              ldmatrix_x4_trans(a[mt], sdS + (kk * 16 + a_key) * kLdS + (half * kM + mt) * 16 + a_q);
#pragma unroll
            for (int n = 0; n < kDQ; n += 2) {
              uint32_t bk[4];
              ldmatrix_x4_trans(bk, sK + (kk * 16 + b_key) * kLd + dcol0 + n * 8 + b_d);
#pragma unroll
              for (int mt = 0; mt < kM; ++mt) {
                mma_bf16(dq[mt][n], a[mt], bk[0], bk[1]);
                mma_bf16(dq[mt][n + 1], a[mt], bk[2], bk[3]);
              }
            }
          }
#pragma unroll
          for (int mt = 0; mt < kM; ++mt) {
            const int ia = m0 + (half * kM + mt) * 16 + g, ib = ia + 8;
#pragma unroll
            for (int n = 0; n < kDQ; ++n) {
              if (ia < lq) atomic_add2(dq_base + int64_t(ia) * dout_stride + n * 8, dq[mt][n][0], dq[mt][n][1]);
              if (ib < lq) atomic_add2(dq_base + int64_t(ib) * dout_stride + n * 8, dq[mt][n][2], dq[mt][n][3]);
            }
          }
        }
      }
    }

    // This head's share of dK, dV for the warp's keys (the group's other heads add theirs).
    const int ja = warp_key0 + g, jb = ja + 8;
    float* dk_a = dk + (int64_t(k0 + ja) * n_kv_heads + kvh) * HD + 2 * c4;
    float* dv_a = dv + (int64_t(k0 + ja) * n_kv_heads + kvh) * HD + 2 * c4;
    const int64_t row8 = int64_t(8) * n_kv_heads * HD;  // from key ja to key jb
#pragma unroll
    for (int n = 0; n < kD; ++n) {
      if (ja < lk) {
        atomic_add2(dk_a + n * 8, dk_acc[n][0] * scale, dk_acc[n][1] * scale);
        atomic_add2(dv_a + n * 8, dv_acc[n][0], dv_acc[n][1]);
      }
      if (jb < lk) {
        atomic_add2(dk_a + row8 + n * 8, dk_acc[n][2] * scale, dk_acc[n][3] * scale);
        atomic_add2(dv_a + row8 + n * 8, dv_acc[n][2], dv_acc[n][3]);
      }
    }
  }
  cp_async_wait<0>();  // nothing may be in flight when the block exits
}

}  // namespace ritsu::kernels::cuda::flash_mma_bwd
