// RMSNorm: one warp per row (rows are tokens, or tokens*heads for q_norm/k_norm with
// dim = head_dim), fp32 sum of squares by warp shuffle, one rounding on the way out.
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
