#include "kernels/activation/activation.h"

#include <cmath>

namespace ritsu::kernels::cpu {

template <class T>
void swiglu_fwd(const T* gate, const T* up, T* out, int64_t rows, int64_t dim, int64_t ld_in,
                int64_t ld_out, Stream) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < dim; ++j) {
      float g = to_float(gate[r * ld_in + j]);
      float silu = g / (1.0f + std::exp(-g));
      out[r * ld_out + j] = from_float<T>(silu * to_float(up[r * ld_in + j]));
    }
}

template <class T>
void swiglu_bwd(const T* gate, const T* up, const T* dout, T* dgate, T* dup, int64_t rows,
                int64_t dim, int64_t ld_in, int64_t ld_out, Stream) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < dim; ++j) {
      float g = to_float(gate[r * ld_in + j]);
      float u = to_float(up[r * ld_in + j]);
      float d = to_float(dout[r * ld_out + j]);
      float sig = 1.0f / (1.0f + std::exp(-g));
      float silu = g * sig;
      dgate[r * ld_in + j] = from_float<T>(d * u * sig * (1.0f + g * (1.0f - sig)));
      dup[r * ld_in + j] = from_float<T>(d * silu);
    }
}

#define INSTANTIATE(T)                                                                        \
  template void swiglu_fwd<T>(const T*, const T*, T*, int64_t, int64_t, int64_t, int64_t,     \
                              Stream);                                                        \
  template void swiglu_bwd<T>(const T*, const T*, const T*, T*, T*, int64_t, int64_t, int64_t, \
                              int64_t, Stream);
INSTANTIATE(float)
INSTANTIATE(bf16)
#undef INSTANTIATE

}  // namespace ritsu::kernels::cpu
