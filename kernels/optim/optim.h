// Optimizer kernels for the LoRA trainer (fp32 master weights and states).
// cpu:: host pointers, cuda:: device pointers; same signatures.
#pragma once

#include <cstdint>

#include "kernels/common/types.h"

namespace ritsu::kernels {

struct AdamWParams {
  float lr = 0.0f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  float weight_decay = 0.0f;
  int64_t step = 1;        // 1-based, for the bias corrections
  float grad_scale = 1.0f; // multiplies grad first (clipping factor / accumulation average)
};

}  // namespace ritsu::kernels

namespace ritsu::kernels::cpu {

// torch.optim.AdamW (decoupled weight decay), as HF Trainer uses it:
//   g = grad*grad_scale; p -= lr*wd*p; m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2;
//   p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
void adamw_step(float* param, const float* grad, float* m, float* v, int64_t n,
                const AdamWParams& p, Stream s);

// *out = sum of x[i]^2 (fp32 store, fp64 accumulate on the CPU), for global grad-norm
// clipping. out is host memory for cpu::, device memory for cuda::; *out is overwritten.
void sum_squares(const float* x, int64_t n, float* out, Stream s);

}  // namespace ritsu::kernels::cpu

namespace ritsu::kernels::cuda {

void adamw_step(float* param, const float* grad, float* m, float* v, int64_t n,
                const AdamWParams& p, Stream s);
void sum_squares(const float* x, int64_t n, float* out, Stream s);

}  // namespace ritsu::kernels::cuda
