#include "kernels/common/cuda_common.cuh"
#include "kernels/embedding/embedding.h"

namespace ritsu::kernels::cuda {
namespace {

using namespace cuda_detail;

// One block row per token (grid-stride over tokens), threads over the embedding dimension.
template <class T>
__global__ void embedding_fwd_kernel(const T* table, const int32_t* ids, T* out, int64_t n_tokens,
                                     int64_t dim, int64_t vocab) {
  for (int64_t t = blockIdx.x; t < n_tokens; t += gridDim.x) {
    const int64_t id = ids[t];
    const bool valid = id >= 0 && id < vocab;
    for (int64_t j = threadIdx.x; j < dim; j += blockDim.x)
      out[t * dim + j] = valid ? table[id * dim + j] : from_float<T>(0.0f);
  }
}

template <class T>
__global__ void embedding_bwd_kernel(const T* dout, const int32_t* ids, float* dtable,
                                     int64_t n_tokens, int64_t dim, int64_t vocab) {
  for (int64_t t = blockIdx.x; t < n_tokens; t += gridDim.x) {
    const int64_t id = ids[t];
    if (id < 0 || id >= vocab) continue;
    for (int64_t j = threadIdx.x; j < dim; j += blockDim.x)
      atomicAdd(&dtable[id * dim + j], load_f(&dout[t * dim + j]));
  }
}

}  // namespace

template <class T>
void embedding_fwd(const T* table, const int32_t* ids, T* out, int64_t n_tokens, int64_t dim,
                   int64_t vocab, Stream s) {
  if (n_tokens <= 0) return;
  embedding_fwd_kernel<<<grid_for(n_tokens, 1, 65535), 256, 0, stream(s)>>>(table, ids, out,
                                                                            n_tokens, dim, vocab);
  RITSU_CUDA_CHECK_LAUNCH();
}

template <class T>
void embedding_bwd(const T* dout, const int32_t* ids, float* dtable, int64_t n_tokens,
                   int64_t dim, int64_t vocab, Stream s) {
  if (n_tokens <= 0) return;
  embedding_bwd_kernel<<<grid_for(n_tokens, 1, 65535), 256, 0, stream(s)>>>(dout, ids, dtable,
                                                                            n_tokens, dim, vocab);
  RITSU_CUDA_CHECK_LAUNCH();
}

#define INSTANTIATE(T)                                                                       \
  template void embedding_fwd<T>(const T*, const int32_t*, T*, int64_t, int64_t, int64_t,    \
                                 Stream);                                                    \
  template void embedding_bwd<T>(const T*, const int32_t*, float*, int64_t, int64_t, int64_t, \
                                 Stream);
INSTANTIATE(float)
INSTANTIATE(bf16)
#undef INSTANTIATE

}  // namespace ritsu::kernels::cuda
