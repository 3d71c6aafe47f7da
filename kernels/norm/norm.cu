// RMSNorm: one warp per row (rows are tokens, or tokens*heads for q_norm/k_norm with
// dim = head_dim), fp32 sum of squares by warp shuffle, one rounding on the way out.
#include <type_traits>

#include "kernels/common/cuda_common.cuh"
#include "kernels/norm/norm.h"

namespace ritsu::kernels::cuda {
namespace {

using namespace cuda_detail;
constexpr int kWarpsPerBlock = 4;

template <class T>
__global__ void rms_norm_fwd_kernel(const T* x, const T* weight, T* y, float* rstd, int64_t rows,
                                    int64_t dim, float eps) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = int64_t(gridDim.x) * kWarpsPerBlock;
  for (int64_t r = int64_t(blockIdx.x) * kWarpsPerBlock + (threadIdx.x >> 5); r < rows; r += warps) {
    const T* xr = x + r * dim;
    float ss = 0.0f;
    for (int64_t j = lane; j < dim; j += 32) {
      const float v = load_f(&xr[j]);
      ss += v * v;
    }
    ss = warp_sum(ss);
    const float inv = 1.0f / sqrtf(ss / float(dim) + eps);
    if (rstd && lane == 0) rstd[r] = inv;
    T* yr = y + r * dim;
    for (int64_t j = lane; j < dim; j += 32) store_f(&yr[j], load_f(&weight[j]) * (load_f(&xr[j]) * inv));
  }
}

// bf16 rows with dim % 256 == 0 (every Qwen hidden size and head_dim 256): each lane reads
// 16-byte pieces (8 elements), all of a row's pieces issued before the reduction, instead of
// dim/32 dependent 2-byte loads per lane; the second pass re-reads x from L1.
constexpr int kVecPieces = 8;  // 16-byte pieces per lane held in flight (dim <= 8192 in one go)

__device__ __forceinline__ void unpack8(const uint4& u, float (&v)[8]) {
  const uint32_t w[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    v[2 * i] = __uint_as_float(w[i] << 16);
    v[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);
  }
}

__global__ void rms_norm_fwd_vec_kernel(const bf16* __restrict__ x, const bf16* __restrict__ weight,
                                        bf16* __restrict__ y, float* __restrict__ rstd, int64_t rows,
                                        int64_t dim, float eps) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = int64_t(gridDim.x) * kWarpsPerBlock;
  const int64_t pieces = dim / 8;  // 16-byte pieces per row
  for (int64_t r = int64_t(blockIdx.x) * kWarpsPerBlock + (threadIdx.x >> 5); r < rows; r += warps) {
    const uint4* xr = reinterpret_cast<const uint4*>(x + r * dim);
    float ss = 0.0f;
    for (int64_t p0 = lane; p0 < pieces; p0 += 32 * kVecPieces) {
      uint4 u[kVecPieces];
#pragma unroll
      for (int i = 0; i < kVecPieces; ++i)
        u[i] = p0 + 32 * i < pieces ? __ldg(xr + p0 + 32 * i) : make_uint4(0u, 0u, 0u, 0u);
#pragma unroll
      for (int i = 0; i < kVecPieces; ++i) {
        float v[8];
        unpack8(u[i], v);
#pragma unroll
        for (int e = 0; e < 8; ++e) ss = fmaf(v[e], v[e], ss);
      }
    }
    ss = warp_sum(ss);
    const float inv = 1.0f / sqrtf(ss / float(dim) + eps);
    if (rstd && lane == 0) rstd[r] = inv;
    uint4* yr = reinterpret_cast<uint4*>(y + r * dim);
    const uint4* wr = reinterpret_cast<const uint4*>(weight);
    for (int64_t p = lane; p < pieces; p += 32) {
      float v[8], wv[8];
      unpack8(__ldg(xr + p), v);
      unpack8(__ldg(wr + p), wv);
      uint32_t o[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        // Same expression and rounding as the scalar kernel: weight * (x * inv), rounded once.
        const __nv_bfloat162 h = __floats2bfloat162_rn(wv[2 * i] * (v[2 * i] * inv),
                                                       wv[2 * i + 1] * (v[2 * i + 1] * inv));
        o[i] = *reinterpret_cast<const uint32_t*>(&h);
      }
      yr[p] = make_uint4(o[0], o[1], o[2], o[3]);
    }
  }
}

template <class T>
__global__ void rms_norm_bwd_kernel(const T* x, const T* weight, const float* rstd, const T* dy,
                                    T* dx, float* dweight, int64_t rows, int64_t dim) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = int64_t(gridDim.x) * kWarpsPerBlock;
  for (int64_t r = int64_t(blockIdx.x) * kWarpsPerBlock + (threadIdx.x >> 5); r < rows; r += warps) {
    const T* xr = x + r * dim;
    const T* dyr = dy + r * dim;
    const float inv = rstd[r];
    float dot = 0.0f;
    for (int64_t j = lane; j < dim; j += 32)
      dot += load_f(&weight[j]) * load_f(&dyr[j]) * load_f(&xr[j]) * inv;
    const float mean = warp_sum(dot) / float(dim);
    __syncwarp();
    T* dxr = dx + r * dim;
    for (int64_t j = lane; j < dim; j += 32) {
      const float xhat = load_f(&xr[j]) * inv;
      const float d = load_f(&dyr[j]);
      if (dweight) atomicAdd(&dweight[j], d * xhat);
      store_f(&dxr[j], inv * (load_f(&weight[j]) * d - xhat * mean));
    }
  }
}

}  // namespace

template <class T>
void rms_norm_fwd(const T* x, const T* weight, T* y, float* rstd, int64_t rows, int64_t dim,
                  float eps, Stream s) {
  if (rows <= 0) return;
  if constexpr (std::is_same_v<T, bf16>) {
    const uintptr_t addr = reinterpret_cast<uintptr_t>(x) | reinterpret_cast<uintptr_t>(weight) |
                           reinterpret_cast<uintptr_t>(y);
    if (dim % 256 == 0 && addr % 16 == 0) {
      rms_norm_fwd_vec_kernel<<<grid_for(rows, kWarpsPerBlock), 32 * kWarpsPerBlock, 0, stream(s)>>>(
          x, weight, y, rstd, rows, dim, eps);
      RITSU_CUDA_CHECK_LAUNCH();
      return;
    }
  }
  rms_norm_fwd_kernel<<<grid_for(rows, kWarpsPerBlock), 32 * kWarpsPerBlock, 0, stream(s)>>>(
      x, weight, y, rstd, rows, dim, eps);
  RITSU_CUDA_CHECK_LAUNCH();
}

template <class T>
void rms_norm_bwd(const T* x, const T* weight, const float* rstd, const T* dy, T* dx,
                  float* dweight, int64_t rows, int64_t dim, Stream s) {
  if (rows <= 0) return;
  rms_norm_bwd_kernel<<<grid_for(rows, kWarpsPerBlock), 32 * kWarpsPerBlock, 0, stream(s)>>>(
      x, weight, rstd, dy, dx, dweight, rows, dim);
  RITSU_CUDA_CHECK_LAUNCH();
}

#define INSTANTIATE(T)                                                                        \
  template void rms_norm_fwd<T>(const T*, const T*, T*, float*, int64_t, int64_t, float,      \
                                Stream);                                                      \
  template void rms_norm_bwd<T>(const T*, const T*, const float*, const T*, T*, float*,       \
                                int64_t, int64_t, Stream);
INSTANTIATE(float)
INSTANTIATE(bf16)
#undef INSTANTIATE

}  // namespace ritsu::kernels::cuda
