#include "kernels/common/cuda_common.cuh"
#include "kernels/elementwise/elementwise.h"

namespace ritsu::kernels::cuda {
namespace {

using namespace cuda_detail;

__device__ __forceinline__ float load_any(const f16* p) {
  return __half2float(*reinterpret_cast<const __half*>(p));
}
__device__ __forceinline__ float load_any(const float* p) { return load_f(p); }
__device__ __forceinline__ float load_any(const bf16* p) { return load_f(p); }

#define GRID_STRIDE(i, n)                                                             \
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); \
       i += int64_t(gridDim.x) * blockDim.x)

template <class T>
__global__ void add_kernel(const T* a, const T* b, T* out, int64_t n) {
  GRID_STRIDE(i, n) store_f(&out[i], load_f(&a[i]) + load_f(&b[i]));
}

template <class T>
__global__ void add_bias_kernel(T* x, const T* bias, int64_t rows, int64_t dim, int64_t ld) {
  GRID_STRIDE(i, rows * dim) {
    const int64_t r = i / dim, j = i % dim;
    store_f(&x[r * ld + j], load_f(&x[r * ld + j]) + load_f(&bias[j]));
  }
}

template <class T>
__global__ void axpy_kernel(const T* x, T* y, float alpha, int64_t n) {
  GRID_STRIDE(i, n) store_f(&y[i], load_f(&y[i]) + alpha * load_f(&x[i]));
}

template <class In, class Out>
__global__ void cast_kernel(const In* in, Out* out, int64_t n) {
  GRID_STRIDE(i, n) store_f(&out[i], load_any(&in[i]));
}

#undef GRID_STRIDE

}  // namespace

template <class T>
void add(const T* a, const T* b, T* out, int64_t n, Stream s) {
  if (n <= 0) return;
  add_kernel<<<grid_for(n, 256), 256, 0, stream(s)>>>(a, b, out, n);
  RITSU_CUDA_CHECK_LAUNCH();
}

template <class T>
void add_bias(T* x, const T* bias, int64_t rows, int64_t dim, int64_t ld, Stream s) {
  if (rows * dim <= 0) return;
  add_bias_kernel<<<grid_for(rows * dim, 256), 256, 0, stream(s)>>>(x, bias, rows, dim, ld);
  RITSU_CUDA_CHECK_LAUNCH();
}

template <class T>
void axpy(const T* x, T* y, float alpha, int64_t n, Stream s) {
  if (n <= 0) return;
  axpy_kernel<<<grid_for(n, 256), 256, 0, stream(s)>>>(x, y, alpha, n);
  RITSU_CUDA_CHECK_LAUNCH();
}

template <class In, class Out>
void cast(const In* in, Out* out, int64_t n, Stream s) {
  if (n <= 0) return;
  cast_kernel<<<grid_for(n, 256), 256, 0, stream(s)>>>(in, out, n);
  RITSU_CUDA_CHECK_LAUNCH();
}

#define INSTANTIATE(T)                                                        \
  template void add<T>(const T*, const T*, T*, int64_t, Stream);              \
  template void add_bias<T>(T*, const T*, int64_t, int64_t, int64_t, Stream); \
  template void axpy<T>(const T*, T*, float, int64_t, Stream);
INSTANTIATE(float)
INSTANTIATE(bf16)
#undef INSTANTIATE

template void cast<float, bf16>(const float*, bf16*, int64_t, Stream);
template void cast<bf16, float>(const bf16*, float*, int64_t, Stream);
template void cast<f16, float>(const f16*, float*, int64_t, Stream);
template void cast<f16, bf16>(const f16*, bf16*, int64_t, Stream);
template void cast<float, float>(const float*, float*, int64_t, Stream);
template void cast<bf16, bf16>(const bf16*, bf16*, int64_t, Stream);

}  // namespace ritsu::kernels::cuda
