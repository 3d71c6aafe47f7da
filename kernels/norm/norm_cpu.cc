#include "kernels/norm/norm.h"

#include <cmath>

namespace ritsu::kernels::cpu {

template <class T>
void rms_norm_fwd(const T* x, const T* weight, T* y, float* rstd, int64_t rows, int64_t dim,
                  float eps, Stream) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * dim;
    T* yr = y + r * dim;
    float ss = 0.0f;
    for (int64_t j = 0; j < dim; ++j) {
      float v = to_float(xr[j]);
      ss += v * v;
    }
    float inv = 1.0f / std::sqrt(ss / float(dim) + eps);
    if (rstd) rstd[r] = inv;
    for (int64_t j = 0; j < dim; ++j)
      yr[j] = from_float<T>(to_float(weight[j]) * (to_float(xr[j]) * inv));
  }
}

template <class T>
void rms_norm_bwd(const T* x, const T* weight, const float* rstd, const T* dy, T* dx,
                  float* dweight, int64_t rows, int64_t dim, Stream) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * dim;
    const T* dyr = dy + r * dim;
    T* dxr = dx + r * dim;
    float inv = rstd[r];
    float dot = 0.0f;  // sum_j (w*dy)_j * xhat_j
    for (int64_t j = 0; j < dim; ++j)
      dot += to_float(weight[j]) * to_float(dyr[j]) * to_float(xr[j]) * inv;
    float mean = dot / float(dim);
    for (int64_t j = 0; j < dim; ++j) {
      float xhat = to_float(xr[j]) * inv;
      float g = to_float(weight[j]) * to_float(dyr[j]);
      if (dweight) dweight[j] += to_float(dyr[j]) * xhat;
      dxr[j] = from_float<T>(inv * (g - xhat * mean));  // dy read above before dx overwrites
    }
  }
}

#define INSTANTIATE(T)                                                                        \
  template void rms_norm_fwd<T>(const T*, const T*, T*, float*, int64_t, int64_t, float,      \
                                Stream);                                                      \
  template void rms_norm_bwd<T>(const T*, const T*, const float*, const T*, T*, float*,       \
                                int64_t, int64_t, Stream);
INSTANTIATE(float)
INSTANTIATE(bf16)
#undef INSTANTIATE

}  // namespace ritsu::kernels::cpu
