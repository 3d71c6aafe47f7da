#include <cmath>

#include "kernels/loss/loss.h"

namespace ritsu::kernels::cpu {

template <class T>
void cross_entropy_fwd_bwd(const T* logits, int64_t ld, const int32_t* labels, float* loss,
                           T* dlogits, int64_t rows, int64_t vocab, float grad_scale, Stream) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* row = logits + r * ld;
    const int32_t label = labels[r];
    if (label < 0 || label >= vocab) {
      loss[r] = 0.0f;
      if (dlogits)
        for (int64_t i = 0; i < vocab; ++i) dlogits[r * ld + i] = from_float<T>(0.0f);
      continue;
    }
    float mx = -INFINITY;
    for (int64_t i = 0; i < vocab; ++i) mx = std::fmax(mx, to_float(row[i]));
    double sum = 0.0;
    for (int64_t i = 0; i < vocab; ++i) sum += std::exp(double(to_float(row[i]) - mx));
    const float lse = mx + float(std::log(sum));
    const float target = to_float(row[label]);
    loss[r] = lse - target;
    if (!dlogits) continue;
    for (int64_t i = 0; i < vocab; ++i) {
      // row may alias dlogits: read element i before writing it.
      const float p = std::exp(to_float(row[i]) - lse);
      dlogits[r * ld + i] = from_float<T>((p - (i == label ? 1.0f : 0.0f)) * grad_scale);
    }
  }
}

template void cross_entropy_fwd_bwd<float>(const float*, int64_t, const int32_t*, float*, float*,
                                           int64_t, int64_t, float, Stream);
template void cross_entropy_fwd_bwd<bf16>(const bf16*, int64_t, const int32_t*, float*, bf16*,
                                          int64_t, int64_t, float, Stream);

}  // namespace ritsu::kernels::cpu
