// Tensor-core prefill attention forward (bf16, head_dim 64 or 128), included by
// flash_attention.cu (a header so the kernel library's source list stays unchanged).
//
// Layout of the work: one launch for the whole varlen batch; block (head, sequence, q tile)
// with the head index fastest, so the n_heads/n_kv_heads query heads sharing one K/V head run
// side by side and read that K/V from L2 rather than HBM. Q tiles are visited longest first
// (causal: the last tile of a sequence sees the most keys) to shorten the tail of the launch.
//
// A block owns 128 query rows: 4 warps of 32 rows (MT = 2, the fast path) or 8 warps of 16. K/V tiles of 64 keys are
// double-buffered in shared memory with cp.async: tile t+1 is in flight while tile t is used.
// Per tile each warp computes S = Q K^T with mma.sync.m16n8k16 (bf16 in, fp32 accumulate),
// operands fetched with ldmatrix (V with .trans), keeps the online softmax in registers
// (exp2 with log2(e) folded into the scale), reuses the S accumulators directly as the A
// operand of P V (the m16n8k16 C and A fragments line up), and accumulates O in registers.
// Tiles beyond the block's last visible key are never loaded; a warp skips tiles beyond its
// own rows' last visible key; the causal/length mask is applied only on boundary tiles.
//
// Fragment layouts (PTX ISA, "Matrix fragments for mma.m16n8k16", bf16): with g = lane / 4 and
// c = lane % 4, A regs hold (row g | g+8, cols 2c,2c+1 | 2c+8,2c+9) in the order
// a0=(g,2c) a1=(g+8,2c) a2=(g,2c+8) a3=(g+8,2c+8); B regs hold (k rows 2c,2c+1 | 2c+8,2c+9,
// col g); C holds c0,c1=(g, 2c,2c+1) and c2,c3=(g+8, 2c,2c+1).
#pragma once

#include <cuda_bf16.h>

#include <cstdint>

namespace ritsu::kernels::cuda::flash_mma {

constexpr int kBQ = 128;  // query rows per block
constexpr int kBK = 64;   // keys per K/V tile

// MT = m16 row tiles per warp. MT = 2 (32 rows per warp, 4 warps) reuses every K/V fragment
// read from shared memory for two row tiles, halving the ldmatrix traffic that limits MT = 1
// (16 rows per warp, 8 warps); Q is then re-read from shared memory per tile to stay within
// 255 registers, and two blocks fit on an SM.
template <int MT>
struct Warps {
  static constexpr int kCount = kBQ / (16 * MT);
  static constexpr int kThreads = 32 * kCount;
  static constexpr bool kQInRegs = MT == 1;
};

template <int HD>
struct Smem {
  static constexpr int kLd = HD + 8;  // bf16 per smem row: +16 bytes so ldmatrix rows hit distinct banks
  static constexpr int kQElems = kBQ * kLd;
  static constexpr int kKVElems = kBK * kLd;
  // Q, then K[2], then V[2].
  static constexpr size_t kBytes = size_t(kQElems + 4 * kKVElems) * 2;
};

__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16-byte async copy; src_bytes = 0 zero-fills the destination without reading src.
__device__ __forceinline__ void cp_async16(void* dst, const void* src, int src_bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(dst)), "l"(src),
               "r"(src_bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}

// d += a * b for one m16n8k16 tile, bf16 inputs, fp32 accumulators.
__device__ __forceinline__ void mma_bf16(float (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                         uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// 2^x with the hardware approximation (relative error ~2^-22, far below bf16's 2^-8); ex2(-inf)
// is 0. exp2f without --use_fast_math adds a denormal-range fix-up the softmax never needs.
__device__ __forceinline__ float fast_exp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
  __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<uint32_t*>(&v);
}

// Issues cp.async for `rows` rows of HD bf16 (row r at src + r*stride) into smem rows of
// Smem<HD>::kLd; rows >= valid are zero-filled (so masked keys multiply zeros, never garbage).
template <int HD, int THREADS>
__device__ __forceinline__ void load_tile_async(__nv_bfloat16* dst, const __nv_bfloat16* src,
                                                int64_t stride, int rows, int valid) {
  constexpr int kChunks = HD / 8;  // 16-byte chunks per row
  for (int c = threadIdx.x; c < rows * kChunks; c += THREADS) {
    const int r = c / kChunks, col = (c % kChunks) * 8;
    const bool in = r < valid;
    const __nv_bfloat16* from = in ? src + r * stride + col : src;
    cp_async16(dst + r * Smem<HD>::kLd + col, from, in ? 16 : 0);
  }
}

template <int HD, int MT>
__global__ void __launch_bounds__(Warps<MT>::kThreads, MT)  // MT = 2: two blocks per SM
    flash_fwd_mma_kernel(const __nv_bfloat16* __restrict__ q, const __nv_bfloat16* __restrict__ k,
                         const __nv_bfloat16* __restrict__ v, __nv_bfloat16* __restrict__ out,
                         float* __restrict__ lse, const int32_t* __restrict__ cu_q,
                         const int32_t* __restrict__ cu_k, int n_heads, int group,
                         int64_t q_stride, int64_t kv_stride, float scale_log2) {
  using S = Smem<HD>;
  using W = Warps<MT>;
  constexpr int kThreads = W::kThreads;
  constexpr int kLd = S::kLd;
  constexpr int kDSteps = HD / 16;  // k-steps of Q K^T
  constexpr int kSTiles = kBK / 8;  // n-tiles of S
  constexpr int kOTiles = HD / 8;   // n-tiles of O

  // Grid: x = head (fastest, so a GQA group's heads run together and share K/V in L2),
  // y = sequence, z = q tile counted from the last (every sequence's longest tiles first).
  const int h = blockIdx.x;
  // In-sequence indices are int (cu_seqlens are int32); pointer offsets are int64.
  const int b = blockIdx.y;
  const int q0 = cu_q[b], lq = cu_q[b + 1] - q0;
  const int k0 = cu_k[b], lk = cu_k[b + 1] - k0;
  const int tiles_q = (lq + kBQ - 1) / kBQ;
  if (int(blockIdx.z) >= tiles_q) return;
  const int tile_q = (tiles_q - 1 - int(blockIdx.z)) * kBQ;
  const int total_q = cu_q[gridDim.y];
  const int kvh = h / group;
  const int shift = lk - lq;  // query i sees keys j <= i + shift

  extern __shared__ __align__(128) unsigned char smem_raw[];
  __nv_bfloat16* sQ = reinterpret_cast<__nv_bfloat16*>(smem_raw);
  __nv_bfloat16* sK = sQ + S::kQElems;       // two buffers of kKVElems
  __nv_bfloat16* sV = sK + 2 * S::kKVElems;  // two buffers of kKVElems

  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int g = lane >> 2, c4 = lane & 3;
  const int mat = lane >> 3;  // which 8x8 matrix of an ldmatrix.x4 this lane addresses

  const __nv_bfloat16* k_base = k + int64_t(k0) * kv_stride + int64_t(kvh) * HD;
  const __nv_bfloat16* v_base = v + int64_t(k0) * kv_stride + int64_t(kvh) * HD;

  // Keys any row of the block can see: [0, k_end).
  int k_end = tile_q + kBQ + shift;
  if (k_end > lk) k_end = lk;
  const int n_tiles = k_end > 0 ? (k_end + kBK - 1) / kBK : 0;

  {
    const int rows_left = lq - tile_q;
    load_tile_async<HD, kThreads>(sQ, q + int64_t(q0 + tile_q) * q_stride + int64_t(h) * HD,
                                  q_stride, kBQ, rows_left < kBQ ? rows_left : kBQ);
  }
  if (n_tiles > 0) {
    const int valid = lk < kBK ? lk : kBK;
    load_tile_async<HD, kThreads>(sK, k_base, kv_stride, kBK, valid);
    load_tile_async<HD, kThreads>(sV, v_base, kv_stride, kBK, valid);
  }
  cp_async_commit();

  // This warp's first row (within the sequence) and the last key its last row sees.
  const int warp_row0 = tile_q + warp * 16 * MT;
  const int warp_last_key = warp_row0 + 16 * MT - 1 + shift;
  // Row tile m: this lane holds rows warp_row0 + 16m + g (c0,c1) and +8 (c2,c3), index 2m, 2m+1.

  // Q A-fragments: lane address inside a 16-row tile (rows +8 for odd matrices, cols +8 for
  // matrices 2, 3).
  const int q_row_off = (lane & 7) + (mat & 1) * 8, q_col_off = (mat >> 1) * 8;
  uint32_t qf[W::kQInRegs ? kDSteps : 1][4];  // MT == 1: Q kept in registers
  float o[MT][kOTiles][4];
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int n = 0; n < kOTiles; ++n) o[mt][n][0] = o[mt][n][1] = o[mt][n][2] = o[mt][n][3] = 0.0f;
  float m_run[2 * MT], l_run[2 * MT];  // running max (log2-scaled) and this lane's partial sums
#pragma unroll
  for (int r = 0; r < 2 * MT; ++r) {
    m_run[r] = -INFINITY;
    l_run[r] = 0.0f;
  }

  for (int t = 0; t < n_tiles; ++t) {
    const int buf = t & 1;
    if (t + 1 < n_tiles) {  // prefetch tile t+1 into the other buffer
      const int kt1 = (t + 1) * kBK;
      const int valid = lk - kt1 < kBK ? lk - kt1 : kBK;
      load_tile_async<HD, kThreads>(sK + (buf ^ 1) * S::kKVElems,
                                    k_base + int64_t(kt1) * kv_stride, kv_stride, kBK, valid);
      load_tile_async<HD, kThreads>(sV + (buf ^ 1) * S::kKVElems,
                                    v_base + int64_t(kt1) * kv_stride, kv_stride, kBK, valid);
    }
    cp_async_commit();
    cp_async_wait<1>();  // everything but the newest group (tile t+1) has landed
    __syncthreads();

    if constexpr (W::kQInRegs) {
      if (t == 0) {
#pragma unroll
        for (int d = 0; d < kDSteps; ++d)
          ldmatrix_x4(qf[d], sQ + (warp * 16 + q_row_off) * kLd + d * 16 + q_col_off);
      }
    }

    const int kt = t * kBK;
    if (kt <= warp_last_key) {
      const __nv_bfloat16* kb = sK + buf * S::kKVElems;
      const __nv_bfloat16* vb = sV + buf * S::kKVElems;

      // S = Q K^T: (16 MT) x 64 per warp; each K fragment serves all MT row tiles.
      float s[MT][kSTiles][4];
#pragma unroll
      for (int mt = 0; mt < MT; ++mt)
#pragma unroll
        for (int n = 0; n < kSTiles; ++n) s[mt][n][0] = s[mt][n][1] = s[mt][n][2] = s[mt][n][3] = 0.0f;
      {
        const int key_off = (lane & 7) + (mat >> 1) * 8, d_off = (mat & 1) * 8;
        // Not unrolled for MT = 2: a software-pipelined d loop would not fit O and S in 255
        // registers for head_dim 128.
#pragma unroll(W::kQInRegs ? kDSteps : 1)
        for (int d = 0; d < kDSteps; ++d) {
          uint32_t qa[MT][4];
#pragma unroll
          for (int mt = 0; mt < MT; ++mt) {
            if constexpr (W::kQInRegs) {
#pragma unroll
              for (int e = 0; e < 4; ++e) qa[mt][e] = qf[d][e];
            } else {
              ldmatrix_x4(qa[mt],
                          sQ + (warp * 16 * MT + mt * 16 + q_row_off) * kLd + d * 16 + q_col_off);
            }
          }
#pragma unroll
          for (int n = 0; n < kSTiles; n += 2) {
            uint32_t bk[4];  // b0,b1 of key tile n, then of key tile n+1
            ldmatrix_x4(bk, kb + (n * 8 + key_off) * kLd + d * 16 + d_off);
#pragma unroll
            for (int mt = 0; mt < MT; ++mt) {
              mma_bf16(s[mt][n], qa[mt], bk[0], bk[1]);
              mma_bf16(s[mt][n + 1], qa[mt], bk[2], bk[3]);
            }
          }
        }
      }

      // Mask only where the tile crosses the causal diagonal of this warp's first row or the
      // key end.
      const bool need_mask = kt + kBK - 1 > warp_row0 + shift || kt + kBK > lk;
      if (need_mask) {
#pragma unroll
        for (int mt = 0; mt < MT; ++mt) {
          // Last visible key of rows a and b, relative to this lane's first column.
          const int col0 = kt + 2 * c4;
          const int last_a = min(warp_row0 + mt * 16 + g + shift, lk - 1) - col0;
          const int last_b = min(warp_row0 + mt * 16 + g + 8 + shift, lk - 1) - col0;
#pragma unroll
          for (int n = 0; n < kSTiles; ++n) {
#pragma unroll
            for (int e = 0; e < 2; ++e) {
              if (n * 8 + e > last_a) s[mt][n][e] = -INFINITY;
              if (n * 8 + e > last_b) s[mt][n][2 + e] = -INFINITY;
            }
          }
        }
      }

#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
        // Online softmax for rows a (c0,c1) and b (c2,c3); the 4 lanes of a quad share a row.
        float mx_a = -INFINITY, mx_b = -INFINITY;
#pragma unroll
        for (int n = 0; n < kSTiles; ++n) {
          mx_a = fmaxf(mx_a, fmaxf(s[mt][n][0], s[mt][n][1]));
          mx_b = fmaxf(mx_b, fmaxf(s[mt][n][2], s[mt][n][3]));
        }
#pragma unroll
        for (int off = 1; off <= 2; off <<= 1) {
          mx_a = fmaxf(mx_a, __shfl_xor_sync(0xffffffffu, mx_a, off));
          mx_b = fmaxf(mx_b, __shfl_xor_sync(0xffffffffu, mx_b, off));
        }
        float& m_a = m_run[2 * mt];
        float& m_b = m_run[2 * mt + 1];
        const float mn_a = fmaxf(m_a, mx_a * scale_log2), mn_b = fmaxf(m_b, mx_b * scale_log2);
        // A row with nothing visible yet keeps m = -inf; use 0 so exp2 sees -inf, never NaN.
        const float mu_a = mn_a == -INFINITY ? 0.0f : mn_a;
        const float mu_b = mn_b == -INFINITY ? 0.0f : mn_b;
        const float alpha_a = fast_exp2(m_a - mu_a), alpha_b = fast_exp2(m_b - mu_b);
        m_a = mn_a;
        m_b = mn_b;

        // P overwrites S in place as packed bf16 pairs (s[mt][n][0]: row a, [1]: row b): the
        // A operand of P V below.
        float sum_a = 0.0f, sum_b = 0.0f;
#pragma unroll
        for (int n = 0; n < kSTiles; ++n) {
          const float p0 = fast_exp2(fmaf(s[mt][n][0], scale_log2, -mu_a));
          const float p1 = fast_exp2(fmaf(s[mt][n][1], scale_log2, -mu_a));
          const float p2 = fast_exp2(fmaf(s[mt][n][2], scale_log2, -mu_b));
          const float p3 = fast_exp2(fmaf(s[mt][n][3], scale_log2, -mu_b));
          s[mt][n][0] = __uint_as_float(pack_bf16(p0, p1));
          s[mt][n][1] = __uint_as_float(pack_bf16(p2, p3));
          sum_a += p0 + p1;
          sum_b += p2 + p3;
        }
        l_run[2 * mt] = l_run[2 * mt] * alpha_a + sum_a;
        l_run[2 * mt + 1] = l_run[2 * mt + 1] * alpha_b + sum_b;
#pragma unroll
        for (int n = 0; n < kOTiles; ++n) {
          o[mt][n][0] *= alpha_a;
          o[mt][n][1] *= alpha_a;
          o[mt][n][2] *= alpha_b;
          o[mt][n][3] *= alpha_b;
        }
      }

      // O += P V: k-steps of 16 keys (two S n-tiles form one A fragment); each V fragment
      // serves all MT row tiles.
      {
        const int key_off = (lane & 7) + (mat & 1) * 8, d_off = (mat >> 1) * 8;
#pragma unroll
        for (int kk = 0; kk < kBK / 16; ++kk) {
          uint32_t a[MT][4];
#pragma unroll
          for (int mt = 0; mt < MT; ++mt) {
            a[mt][0] = __float_as_uint(s[mt][2 * kk][0]);
            a[mt][1] = __float_as_uint(s[mt][2 * kk][1]);
            a[mt][2] = __float_as_uint(s[mt][2 * kk + 1][0]);
            a[mt][3] = __float_as_uint(s[mt][2 * kk + 1][1]);
          }
#pragma unroll
          for (int n = 0; n < kOTiles; n += 2) {
            uint32_t bv[4];  // b0,b1 of d tile n, then of d tile n+1
            ldmatrix_x4_trans(bv, vb + (kk * 16 + key_off) * kLd + n * 8 + d_off);
#pragma unroll
            for (int mt = 0; mt < MT; ++mt) {
              mma_bf16(o[mt][n], a[mt], bv[0], bv[1]);
              mma_bf16(o[mt][n + 1], a[mt], bv[2], bv[3]);
            }
          }
        }
      }
    }
    __syncthreads();  // buffer `buf` is free for the prefetch of tile t+2
  }
  cp_async_wait<0>();  // nothing may be in flight when the block exits

  constexpr float kLn2 = 0.6931471805599453f;
#pragma unroll
  for (int r = 0; r < 2 * MT; ++r) {
    float l = l_run[r];
    l += __shfl_xor_sync(0xffffffffu, l, 1);
    l += __shfl_xor_sync(0xffffffffu, l, 2);
    const int row = warp_row0 + (r >> 1) * 16 + (r & 1) * 8 + g;
    if (row >= lq) continue;
    const float inv = l > 0.0f ? 1.0f / l : 0.0f;
    const int mt = r >> 1, e = (r & 1) * 2;
    __nv_bfloat16* orow = out + (int64_t(q0 + row) * n_heads + h) * HD + 2 * c4;
#pragma unroll
    for (int n = 0; n < kOTiles; ++n)
      *reinterpret_cast<__nv_bfloat162*>(orow + n * 8) =
          __floats2bfloat162_rn(o[mt][n][e] * inv, o[mt][n][e + 1] * inv);
    if (lse && c4 == 0)
      lse[int64_t(h) * total_q + q0 + row] = l > 0.0f ? (m_run[r] + log2f(l)) * kLn2 : -INFINITY;
  }
}

}  // namespace ritsu::kernels::cuda::flash_mma
