// Device helpers shared by the .cu files: storage conversions through the CUDA intrinsics
// (bit-identical to ritsu::bf16's rounding: both round to nearest even), warp reductions,
// grid sizing.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/common/cuda_check.h"
#include "kernels/common/types.h"

namespace ritsu::kernels::cuda_detail {

__device__ __forceinline__ float load_f(const float* p) { return *p; }
__device__ __forceinline__ float load_f(const bf16* p) {
  return __bfloat162float(*reinterpret_cast<const __nv_bfloat16*>(p));
}
__device__ __forceinline__ void store_f(float* p, float v) { *p = v; }
__device__ __forceinline__ void store_f(bf16* p, float v) {
  *reinterpret_cast<__nv_bfloat16*>(p) = __float2bfloat16_rn(v);
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

inline unsigned grid_for(int64_t n, int threads, int64_t cap = 65535LL * 32) {
  int64_t g = (n + threads - 1) / threads;
  if (g < 1) g = 1;
  return unsigned(g < cap ? g : cap);
}

}  // namespace ritsu::kernels::cuda_detail
