// Sampling on the GPU: greedy rows are an argmax on the device (one block per row, ties to
// the lowest id, NaN never wins), so only one int per row crosses to the host. Rows with
// temperature > 0 copy their logits to the host and run the CPU twin, which makes the GPU pick
// exactly the token the CPU backend picks for the same logits (see sampling.h).
#include <vector>

#include "kernels/common/cuda_common.cuh"
#include "kernels/sampling/sampling.h"

namespace ritsu::kernels::cuda {
namespace {

using namespace cuda_detail;
constexpr int kThreads = 1024;

template <class T>
__global__ void argmax_kernel(const T* logits, int64_t vocab, int64_t ld, int32_t* out) {
  __shared__ float sv[kThreads / 32];
  __shared__ int32_t si[kThreads / 32];
  const T* row = logits + int64_t(blockIdx.x) * ld;
  float best = -INFINITY;
  int32_t best_i = INT32_MAX;
  for (int64_t i = threadIdx.x; i < vocab; i += blockDim.x) {
    float v = load_f(&row[i]);
    if (v != v) v = -INFINITY;  // NaN
    if (v > best || (v == best && int32_t(i) < best_i)) {
      best = v;
      best_i = int32_t(i);
    }
  }
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const float ov = __shfl_xor_sync(0xffffffffu, best, o);
    const int32_t oi = __shfl_xor_sync(0xffffffffu, best_i, o);
    if (ov > best || (ov == best && oi < best_i)) {
      best = ov;
      best_i = oi;
    }
  }
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  if (lane == 0) {
    sv[warp] = best;
    si[warp] = best_i;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int w = 1; w < int(blockDim.x >> 5); ++w)
      if (sv[w] > best || (sv[w] == best && si[w] < best_i)) {
        best = sv[w];
        best_i = si[w];
      }
    out[blockIdx.x] = best_i == INT32_MAX ? 0 : best_i;  // all -inf/NaN: token 0, as the CPU
  }
}

// A small grow-only device buffer for the argmax results of this host thread (batch ints).
int32_t* argmax_buffer(int64_t batch) {
  thread_local int32_t* buf = nullptr;
  thread_local int64_t cap = 0;
  thread_local int device = -1;
  int current = 0;
  RITSU_CUDA_CHECK(cudaGetDevice(&current));
  if (batch > cap || current != device) {
    if (buf && current == device) RITSU_CUDA_CHECK(cudaFree(buf));
    cap = batch > 256 ? batch : 256;
    RITSU_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&buf), size_t(cap) * sizeof(int32_t)));
    device = current;
  }
  return buf;
}

}  // namespace

template <class T>
void sample(const T* logits, int64_t batch, int64_t vocab, int64_t ld,
            const SamplingParams* params, const uint64_t* counters, int32_t* tokens, Stream s) {
  if (batch <= 0) return;
  RITSU_KERNEL_REQUIRE(vocab > 0 && vocab <= INT32_MAX);
  int32_t* d_tokens = argmax_buffer(batch);
  argmax_kernel<<<unsigned(batch), kThreads, 0, stream(s)>>>(logits, vocab, ld, d_tokens);
  RITSU_CUDA_CHECK_LAUNCH();
  RITSU_CUDA_CHECK(cudaMemcpyAsync(tokens, d_tokens, size_t(batch) * sizeof(int32_t),
                                   cudaMemcpyDeviceToHost, stream(s)));
  std::vector<T> row;
  for (int64_t b = 0; b < batch; ++b) {
    if (!(params[b].temperature > 0.0f)) continue;
    row.resize(size_t(vocab));
    RITSU_CUDA_CHECK(cudaMemcpyAsync(row.data(), logits + b * ld, size_t(vocab) * sizeof(T),
                                     cudaMemcpyDeviceToHost, stream(s)));
    RITSU_CUDA_CHECK(cudaStreamSynchronize(stream(s)));
    cpu::sample(row.data(), 1, vocab, vocab, &params[b], &counters[b], &tokens[b], nullptr);
  }
  RITSU_CUDA_CHECK(cudaStreamSynchronize(stream(s)));
}

template void sample<float>(const float*, int64_t, int64_t, int64_t, const SamplingParams*,
                            const uint64_t*, int32_t*, Stream);
template void sample<bf16>(const bf16*, int64_t, int64_t, int64_t, const SamplingParams*,
                           const uint64_t*, int32_t*, Stream);

}  // namespace ritsu::kernels::cuda
