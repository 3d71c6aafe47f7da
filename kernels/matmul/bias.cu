#include "kernels/common/cuda_common.cuh"
#include "kernels/matmul/bias.h"

namespace ritsu::kernels::cuda_detail {
namespace {

template <class TB, class TY>
__global__ void add_row_bias_kernel(TY* y, const TB* bias, int64_t M, int64_t N) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < M * N;
       i += int64_t(gridDim.x) * blockDim.x)
    store_f(&y[i], load_f(&y[i]) + load_f(&bias[i % N]));
}

}  // namespace

template <class TB, class TY>
void add_row_bias(TY* y, const TB* bias, int64_t M, int64_t N, kernels::Stream s) {
  if (M * N <= 0) return;
  add_row_bias_kernel<<<grid_for(M * N, 256), 256, 0, stream(s)>>>(y, bias, M, N);
  RITSU_CUDA_CHECK_LAUNCH();
}

template void add_row_bias<float, float>(float*, const float*, int64_t, int64_t, kernels::Stream);
template void add_row_bias<bf16, bf16>(bf16*, const bf16*, int64_t, int64_t, kernels::Stream);
template void add_row_bias<bf16, float>(float*, const bf16*, int64_t, int64_t, kernels::Stream);

}  // namespace ritsu::kernels::cuda_detail
