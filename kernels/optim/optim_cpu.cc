#include <cmath>

#include "kernels/optim/optim.h"

namespace ritsu::kernels::cpu {

void adamw_step(float* param, const float* grad, float* m, float* v, int64_t n,
                const AdamWParams& p, Stream) {
  const float bc1 = 1.0f - std::pow(p.beta1, float(p.step));
  const float bc2_sqrt = std::sqrt(1.0f - std::pow(p.beta2, float(p.step)));
  const float step_size = p.lr / bc1;
  for (int64_t i = 0; i < n; ++i) {
    const float g = grad[i] * p.grad_scale;
    param[i] -= p.lr * p.weight_decay * param[i];
    m[i] = p.beta1 * m[i] + (1.0f - p.beta1) * g;
    v[i] = p.beta2 * v[i] + (1.0f - p.beta2) * g * g;
    param[i] -= step_size * m[i] / (std::sqrt(v[i]) / bc2_sqrt + p.eps);
  }
}

void sum_squares(const float* x, int64_t n, float* out, Stream) {
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) s += double(x[i]) * double(x[i]);
  *out = float(s);
}

}  // namespace ritsu::kernels::cpu
