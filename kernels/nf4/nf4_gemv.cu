// Fused NF4 dequant-GEMV for decode: y[b, n] = sum_k x[b, k] * W[n, k], batch 1..8.
// Memory-bound on the packed weight (N*K/2 bytes), so the layout is chosen for wide loads:
// one warp per output row; per step each lane loads 16 bytes of packed codes (32 elements,
// half of one 64-block, so one absmax per lane per step) and 32 activations per batch row,
// dequantizes in registers with the 16-entry code table in shared memory (the absmax is
// applied once to each 32-element partial sum, saving a multiply per element), and
// accumulates in fp32. A warp covers 1024 elements of the row per step; the row sum is one shuffle reduction.
// The weight is never written back, the activation rows are re-read from L1/L2 by every warp.
#include "kernels/common/cuda_common.cuh"
#include "kernels/nf4/nf4.h"
#include "kernels/nf4/nf4_codec.h"

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

}  // namespace

template <class T>
void nf4_gemv(const Nf4Tensor& w, const T* x, T* y, int64_t batch, Stream s) {
  if (w.rows <= 0 || batch <= 0) return;
  RITSU_KERNEL_REQUIRE(w.cols % kNf4BlockSize == 0);
  RITSU_KERNEL_REQUIRE(batch >= 1 && batch <= 8);
  RITSU_KERNEL_REQUIRE((reinterpret_cast<uintptr_t>(w.packed) & 15u) == 0);
  RITSU_KERNEL_REQUIRE((reinterpret_cast<uintptr_t>(x) & 15u) == 0);
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

template void nf4_gemv<float>(const Nf4Tensor&, const float*, float*, int64_t, Stream);
template void nf4_gemv<bf16>(const Nf4Tensor&, const bf16*, bf16*, int64_t, Stream);

}  // namespace ritsu::kernels::cuda
