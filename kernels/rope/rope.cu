// RoPE: one thread per (token, head, pair i < head_dim/2); angles in fp32 with the precise
// sincosf (no fast-math), from the same rope_inv_freq as the CPU twin.
#include "kernels/common/cuda_common.cuh"
#include "kernels/rope/rope.h"
#include "kernels/rope/rope_freq.h"

namespace ritsu::kernels::cuda {
namespace {

using namespace cuda_detail;

template <class T>
__global__ void rope_kernel(T* x, const int32_t* positions, int64_t n_tokens, int64_t n_heads,
                            int64_t head_dim, int64_t token_stride, float theta, float sign) {
  const int64_t half = head_dim / 2;
  const int64_t total = n_tokens * n_heads * half;
  for (int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; idx < total;
       idx += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = idx % half;
    const int64_t h = (idx / half) % n_heads;
    const int64_t t = idx / (half * n_heads);
    const float angle = float(positions[t]) * rope_inv_freq(i, head_dim, theta);
    float sn, cs;
    sincosf(angle, &sn, &cs);
    sn *= sign;
    T* v = x + t * token_stride + h * head_dim;
    const float a = load_f(&v[i]), b = load_f(&v[i + half]);
    store_f(&v[i], a * cs - b * sn);
    store_f(&v[i + half], b * cs + a * sn);
  }
}

template <class T>
void launch(T* x, const int32_t* positions, int64_t n_tokens, int64_t n_heads, int64_t head_dim,
            int64_t token_stride, float theta, float sign, Stream s) {
  RITSU_KERNEL_REQUIRE(head_dim % 2 == 0);
  const int64_t total = n_tokens * n_heads * (head_dim / 2);
  if (total <= 0) return;
  rope_kernel<<<grid_for(total, 256), 256, 0, stream(s)>>>(x, positions, n_tokens, n_heads,
                                                           head_dim, token_stride, theta, sign);
  RITSU_CUDA_CHECK_LAUNCH();
}

}  // namespace

template <class T>
void rope_fwd(T* x, const int32_t* positions, int64_t n_tokens, int64_t n_heads,
              int64_t head_dim, int64_t token_stride, float theta, Stream s) {
  launch(x, positions, n_tokens, n_heads, head_dim, token_stride, theta, 1.0f, s);
}

template <class T>
void rope_bwd(T* dx, const int32_t* positions, int64_t n_tokens, int64_t n_heads,
              int64_t head_dim, int64_t token_stride, float theta, Stream s) {
  launch(dx, positions, n_tokens, n_heads, head_dim, token_stride, theta, -1.0f, s);
}

#define INSTANTIATE(T)                                                                       \
  template void rope_fwd<T>(T*, const int32_t*, int64_t, int64_t, int64_t, int64_t, float,   \
                            Stream);                                                         \
  template void rope_bwd<T>(T*, const int32_t*, int64_t, int64_t, int64_t, int64_t, float,   \
                            Stream);
INSTANTIATE(float)
INSTANTIATE(bf16)
#undef INSTANTIATE

}  // namespace ritsu::kernels::cuda
