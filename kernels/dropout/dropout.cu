#include "kernels/common/cuda_common.cuh"
#include "kernels/dropout/dropout.h"
#include "kernels/sampling/philox.h"

namespace ritsu::kernels::cuda {
namespace {

using namespace cuda_detail;

template <class T>
__global__ void dropout_kernel(const T* in, T* out, int64_t n, float p, float scale, uint64_t seed,
                               uint64_t offset) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const bool keep = p <= 0.0f || philox_uniform(seed, offset + uint64_t(i)) >= p;
    store_f(&out[i], keep ? load_f(&in[i]) * scale : 0.0f);
  }
}

template <class T>
void launch(const T* in, T* out, int64_t n, float p, uint64_t seed, uint64_t offset, Stream s) {
  if (n <= 0) return;
  RITSU_KERNEL_REQUIRE(p >= 0.0f && p < 1.0f);
  dropout_kernel<<<grid_for(n, 256), 256, 0, stream(s)>>>(in, out, n, p, 1.0f / (1.0f - p), seed, offset);
  RITSU_CUDA_CHECK_LAUNCH();
}

}  // namespace

template <class T>
void dropout_fwd(const T* x, T* y, int64_t n, float p, uint64_t seed, uint64_t offset, Stream s) {
  launch(x, y, n, p, seed, offset, s);
}

template <class T>
void dropout_bwd(const T* dy, T* dx, int64_t n, float p, uint64_t seed, uint64_t offset, Stream s) {
  launch(dy, dx, n, p, seed, offset, s);
}

#define INSTANTIATE(T)                                                                       \
  template void dropout_fwd<T>(const T*, T*, int64_t, float, uint64_t, uint64_t, Stream);    \
  template void dropout_bwd<T>(const T*, T*, int64_t, float, uint64_t, uint64_t, Stream);
INSTANTIATE(float)
INSTANTIATE(bf16)
#undef INSTANTIATE

}  // namespace ritsu::kernels::cuda
