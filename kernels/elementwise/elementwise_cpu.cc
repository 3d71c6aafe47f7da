#include "kernels/elementwise/elementwise.h"

namespace ritsu::kernels::cpu {

template <class T>
void add(const T* a, const T* b, T* out, int64_t n, Stream) {
  for (int64_t i = 0; i < n; ++i) out[i] = from_float<T>(to_float(a[i]) + to_float(b[i]));
}

template <class T>
void add_bias(T* x, const T* bias, int64_t rows, int64_t dim, int64_t ld, Stream) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < dim; ++j)
      x[r * ld + j] = from_float<T>(to_float(x[r * ld + j]) + to_float(bias[j]));
}

template <class T>
void axpy(const T* x, T* y, float alpha, int64_t n, Stream) {
  for (int64_t i = 0; i < n; ++i) y[i] = from_float<T>(to_float(y[i]) + alpha * to_float(x[i]));
}

template <class In, class Out>
void cast(const In* in, Out* out, int64_t n, Stream) {
  for (int64_t i = 0; i < n; ++i) out[i] = from_float<Out>(to_float(in[i]));
}

#define INSTANTIATE(T)                                                     \
  template void add<T>(const T*, const T*, T*, int64_t, Stream);           \
  template void add_bias<T>(T*, const T*, int64_t, int64_t, int64_t, Stream); \
  template void axpy<T>(const T*, T*, float, int64_t, Stream);
INSTANTIATE(float)
INSTANTIATE(bf16)
#undef INSTANTIATE

template void cast<float, bf16>(const float*, bf16*, int64_t, Stream);
template void cast<bf16, float>(const bf16*, float*, int64_t, Stream);
template void cast<f16, float>(const f16*, float*, int64_t, Stream);
template void cast<f16, bf16>(const f16*, bf16*, int64_t, Stream);
template void cast<float, float>(const float*, float*, int64_t, Stream);
template void cast<bf16, bf16>(const bf16*, bf16*, int64_t, Stream);

}  // namespace ritsu::kernels::cpu
