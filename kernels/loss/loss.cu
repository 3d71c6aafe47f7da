// Cross-entropy per row: one block per row; max, then the sum of exp (fp32), then the
// gradient written over the row (dlogits may alias logits: each element is read before it is
// written by the same thread).
#include "kernels/common/cuda_common.cuh"
#include "kernels/loss/loss.h"

namespace ritsu::kernels::cuda {
namespace {

using namespace cuda_detail;
constexpr int kThreads = 512;

__device__ float block_reduce(float v, bool is_max, float* shared) {
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  v = is_max ? warp_max(v) : warp_sum(v);
  __syncthreads();  // shared may still be read by a previous reduction
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  float r = shared[0];
  for (int w = 1; w < kThreads / 32; ++w) r = is_max ? fmaxf(r, shared[w]) : r + shared[w];
  return r;
}

template <class T>
__global__ void __launch_bounds__(kThreads)
    cross_entropy_kernel(const T* logits, int64_t ld, const int32_t* labels, float* loss,
                         T* dlogits, int64_t vocab, float grad_scale) {
  __shared__ float shared[kThreads / 32];
  const int64_t r = blockIdx.x;
  const T* row = logits + r * ld;
  const int32_t label = labels[r];
  if (label < 0 || label >= vocab) {
    if (threadIdx.x == 0) loss[r] = 0.0f;
    if (dlogits)
      for (int64_t i = threadIdx.x; i < vocab; i += blockDim.x) store_f(&dlogits[r * ld + i], 0.0f);
    return;
  }
  float mx = -INFINITY;
  for (int64_t i = threadIdx.x; i < vocab; i += blockDim.x) mx = fmaxf(mx, load_f(&row[i]));
  mx = block_reduce(mx, true, shared);
  float sum = 0.0f;
  for (int64_t i = threadIdx.x; i < vocab; i += blockDim.x) sum += expf(load_f(&row[i]) - mx);
  sum = block_reduce(sum, false, shared);
  const float lse = mx + logf(sum);
  const float target = load_f(&row[label]);
  __syncthreads();  // every thread has read row[label] before anyone overwrites it
  if (threadIdx.x == 0) loss[r] = lse - target;
  if (!dlogits) return;
  for (int64_t i = threadIdx.x; i < vocab; i += blockDim.x) {
    const float p = expf(load_f(&row[i]) - lse);
    store_f(&dlogits[r * ld + i], (p - (i == label ? 1.0f : 0.0f)) * grad_scale);
  }
}

}  // namespace

template <class T>
void cross_entropy_fwd_bwd(const T* logits, int64_t ld, const int32_t* labels, float* loss,
                           T* dlogits, int64_t rows, int64_t vocab, float grad_scale, Stream s) {
  if (rows <= 0) return;
  RITSU_KERNEL_REQUIRE(rows <= INT32_MAX);
  cross_entropy_kernel<<<unsigned(rows), kThreads, 0, stream(s)>>>(logits, ld, labels, loss,
                                                                   dlogits, vocab, grad_scale);
  RITSU_CUDA_CHECK_LAUNCH();
}

template void cross_entropy_fwd_bwd<float>(const float*, int64_t, const int32_t*, float*, float*,
                                           int64_t, int64_t, float, Stream);
template void cross_entropy_fwd_bwd<bf16>(const bf16*, int64_t, const int32_t*, float*, bf16*,
                                          int64_t, int64_t, float, Stream);

}  // namespace ritsu::kernels::cuda
