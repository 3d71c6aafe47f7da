#include "kernels/activation/activation.h"
#include "kernels/common/cuda_common.cuh"

namespace ritsu::kernels::cuda {
namespace {

using namespace cuda_detail;

template <class T>
__global__ void swiglu_fwd_kernel(const T* gate, const T* up, T* out, int64_t rows, int64_t dim,
                                  int64_t ld_in, int64_t ld_out) {
  for (int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; idx < rows * dim;
       idx += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = idx / dim, j = idx % dim;
    const float g = load_f(&gate[r * ld_in + j]);
    const float silu = g / (1.0f + expf(-g));
    store_f(&out[r * ld_out + j], silu * load_f(&up[r * ld_in + j]));
  }
}

template <class T>
__global__ void swiglu_bwd_kernel(const T* gate, const T* up, const T* dout, T* dgate, T* dup,
                                  int64_t rows, int64_t dim, int64_t ld_in, int64_t ld_out) {
  for (int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; idx < rows * dim;
       idx += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = idx / dim, j = idx % dim;
    const float g = load_f(&gate[r * ld_in + j]);
    const float u = load_f(&up[r * ld_in + j]);
    const float d = load_f(&dout[r * ld_out + j]);
    const float sig = 1.0f / (1.0f + expf(-g));
    store_f(&dgate[r * ld_in + j], d * u * sig * (1.0f + g * (1.0f - sig)));
    store_f(&dup[r * ld_in + j], d * g * sig);
  }
}

}  // namespace

template <class T>
void swiglu_fwd(const T* gate, const T* up, T* out, int64_t rows, int64_t dim, int64_t ld_in,
                int64_t ld_out, Stream s) {
  if (rows * dim <= 0) return;
  swiglu_fwd_kernel<<<grid_for(rows * dim, 256), 256, 0, stream(s)>>>(gate, up, out, rows, dim,
                                                                      ld_in, ld_out);
  RITSU_CUDA_CHECK_LAUNCH();
}

template <class T>
void swiglu_bwd(const T* gate, const T* up, const T* dout, T* dgate, T* dup, int64_t rows,
                int64_t dim, int64_t ld_in, int64_t ld_out, Stream s) {
  if (rows * dim <= 0) return;
  swiglu_bwd_kernel<<<grid_for(rows * dim, 256), 256, 0, stream(s)>>>(gate, up, dout, dgate, dup,
                                                                      rows, dim, ld_in, ld_out);
  RITSU_CUDA_CHECK_LAUNCH();
}

#define INSTANTIATE(T)                                                                         \
  template void swiglu_fwd<T>(const T*, const T*, T*, int64_t, int64_t, int64_t, int64_t,      \
                              Stream);                                                         \
  template void swiglu_bwd<T>(const T*, const T*, const T*, T*, T*, int64_t, int64_t, int64_t, \
                              int64_t, Stream);
INSTANTIATE(float)
INSTANTIATE(bf16)
#undef INSTANTIATE

}  // namespace ritsu::kernels::cuda
