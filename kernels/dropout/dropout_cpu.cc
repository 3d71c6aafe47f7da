#include "kernels/dropout/dropout.h"
#include "kernels/sampling/philox.h"

namespace ritsu::kernels::cpu {
namespace {

template <class T>
void apply(const T* in, T* out, int64_t n, float p, uint64_t seed, uint64_t offset) {
  const float scale = 1.0f / (1.0f - p);
  for (int64_t i = 0; i < n; ++i) {
    const bool keep = p <= 0.0f || philox_uniform(seed, offset + uint64_t(i)) >= p;
    out[i] = from_float<T>(keep ? to_float(in[i]) * scale : 0.0f);
  }
}

}  // namespace

template <class T>
void dropout_fwd(const T* x, T* y, int64_t n, float p, uint64_t seed, uint64_t offset, Stream) {
  apply(x, y, n, p, seed, offset);
}

template <class T>
void dropout_bwd(const T* dy, T* dx, int64_t n, float p, uint64_t seed, uint64_t offset, Stream) {
  apply(dy, dx, n, p, seed, offset);
}

#define INSTANTIATE(T)                                                                       \
  template void dropout_fwd<T>(const T*, T*, int64_t, float, uint64_t, uint64_t, Stream);    \
  template void dropout_bwd<T>(const T*, T*, int64_t, float, uint64_t, uint64_t, Stream);
INSTANTIATE(float)
INSTANTIATE(bf16)
#undef INSTANTIATE

}  // namespace ritsu::kernels::cpu
