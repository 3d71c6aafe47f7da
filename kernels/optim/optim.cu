#include <cmath>

#include "kernels/common/cuda_common.cuh"
#include "kernels/optim/optim.h"

namespace ritsu::kernels::cuda {
namespace {

using namespace cuda_detail;

__global__ void adamw_kernel(float* param, const float* grad, float* m, float* v, int64_t n,
                             AdamWParams p, float step_size, float bc2_sqrt) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const float g = grad[i] * p.grad_scale;
    float w = param[i];
    w -= p.lr * p.weight_decay * w;
    const float mi = p.beta1 * m[i] + (1.0f - p.beta1) * g;
    const float vi = p.beta2 * v[i] + (1.0f - p.beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    param[i] = w - step_size * mi / (sqrtf(vi) / bc2_sqrt + p.eps);
  }
}

// One block, fixed order: deterministic (training resumes bit for bit), fp64 accumulation.
__global__ void sum_squares_kernel(const float* x, int64_t n, float* out) {
  __shared__ double partial[1024];
  double s = 0.0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += double(x[i]) * double(x[i]);
  partial[threadIdx.x] = s;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride >>= 1) {
    if (int(threadIdx.x) < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) *out = float(partial[0]);
}

}  // namespace

void adamw_step(float* param, const float* grad, float* m, float* v, int64_t n,
                const AdamWParams& p, Stream s) {
  if (n <= 0) return;
  const float bc1 = 1.0f - std::pow(p.beta1, float(p.step));
  const float bc2_sqrt = std::sqrt(1.0f - std::pow(p.beta2, float(p.step)));
  adamw_kernel<<<grid_for(n, 256), 256, 0, stream(s)>>>(param, grad, m, v, n, p, p.lr / bc1,
                                                       bc2_sqrt);
  RITSU_CUDA_CHECK_LAUNCH();
}

void sum_squares(const float* x, int64_t n, float* out, Stream s) {
  sum_squares_kernel<<<1, 1024, 0, stream(s)>>>(x, n, out);
  RITSU_CUDA_CHECK_LAUNCH();
}

}  // namespace ritsu::kernels::cuda
