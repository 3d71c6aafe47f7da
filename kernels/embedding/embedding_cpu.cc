#include "kernels/embedding/embedding.h"

#include <algorithm>

namespace ritsu::kernels::cpu {

template <class T>
void embedding_fwd(const T* table, const int32_t* ids, T* out, int64_t n_tokens, int64_t dim,
                   int64_t vocab, Stream) {
  for (int64_t t = 0; t < n_tokens; ++t) {
    T* dst = out + t * dim;
    int64_t id = ids[t];
    if (id < 0 || id >= vocab) {
      std::fill(dst, dst + dim, from_float<T>(0.0f));
      continue;
    }
    std::copy(table + id * dim, table + (id + 1) * dim, dst);
  }
}

template <class T>
void embedding_bwd(const T* dout, const int32_t* ids, float* dtable, int64_t n_tokens,
                   int64_t dim, int64_t vocab, Stream) {
  for (int64_t t = 0; t < n_tokens; ++t) {
    int64_t id = ids[t];
    if (id < 0 || id >= vocab) continue;
    for (int64_t j = 0; j < dim; ++j) dtable[id * dim + j] += to_float(dout[t * dim + j]);
  }
}

#define INSTANTIATE(T)                                                                       \
  template void embedding_fwd<T>(const T*, const int32_t*, T*, int64_t, int64_t, int64_t,    \
                                 Stream);                                                    \
  template void embedding_bwd<T>(const T*, const int32_t*, float*, int64_t, int64_t, int64_t, \
                                 Stream);
INSTANTIATE(float)
INSTANTIATE(bf16)
#undef INSTANTIATE

}  // namespace ritsu::kernels::cpu
