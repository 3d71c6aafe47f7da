#include "kernels/rope/rope.h"

#include <cmath>
#include <vector>

#include "kernels/rope/rope_freq.h"

namespace ritsu::kernels::cpu {
namespace {

// sign = +1 forward rotation, -1 its transpose (backward).
template <class T>
void rotate(T* x, const int32_t* positions, int64_t n_tokens, int64_t n_heads, int64_t head_dim,
            int64_t token_stride, float theta, float sign) {
  const int64_t half = head_dim / 2;
  std::vector<float> cosv(half), sinv(half);
  for (int64_t t = 0; t < n_tokens; ++t) {
    for (int64_t i = 0; i < half; ++i) {
      float angle = float(positions[t]) * rope_inv_freq(i, head_dim, theta);
      cosv[i] = std::cos(angle);
      sinv[i] = sign * std::sin(angle);
    }
    for (int64_t h = 0; h < n_heads; ++h) {
      T* v = x + t * token_stride + h * head_dim;
      for (int64_t i = 0; i < half; ++i) {
        float a = to_float(v[i]), b = to_float(v[i + half]);
        v[i] = from_float<T>(a * cosv[i] - b * sinv[i]);
        v[i + half] = from_float<T>(b * cosv[i] + a * sinv[i]);
      }
    }
  }
}

}  // namespace

template <class T>
void rope_fwd(T* x, const int32_t* positions, int64_t n_tokens, int64_t n_heads,
              int64_t head_dim, int64_t token_stride, float theta, Stream) {
  rotate(x, positions, n_tokens, n_heads, head_dim, token_stride, theta, 1.0f);
}

template <class T>
void rope_bwd(T* dx, const int32_t* positions, int64_t n_tokens, int64_t n_heads,
              int64_t head_dim, int64_t token_stride, float theta, Stream) {
  rotate(dx, positions, n_tokens, n_heads, head_dim, token_stride, theta, -1.0f);
}

#define INSTANTIATE(T)                                                                       \
  template void rope_fwd<T>(T*, const int32_t*, int64_t, int64_t, int64_t, int64_t, float,   \
                            Stream);                                                         \
  template void rope_bwd<T>(T*, const int32_t*, int64_t, int64_t, int64_t, int64_t, float,   \
                            Stream);
INSTANTIATE(float)
INSTANTIATE(bf16)
#undef INSTANTIATE

}  // namespace ritsu::kernels::cpu
