// RMSNorm as Qwen2/Qwen3 apply it: y = weight * (x / sqrt(mean(x^2) + eps)), mean and scaling
// in fp32, one rounding to T at the end. The same op is the per-head q_norm/k_norm of Qwen3:
// pass rows = tokens * heads, dim = head_dim (heads contiguous within a token).
// T = float or bf16. cpu:: takes host pointers, cuda:: device pointers; same signatures.
#pragma once

#include <cstdint>

#include "kernels/common/types.h"

namespace ritsu::kernels::cpu {

// x, y: [rows, dim] row-major; y may alias x. weight: [dim].
// rstd (nullable): [rows] fp32, receives 1/sqrt(mean(x^2)+eps) for the backward pass.
template <class T>
void rms_norm_fwd(const T* x, const T* weight, T* y, float* rstd, int64_t rows, int64_t dim,
                  float eps, Stream s);

// Backward from the saved rstd (xhat = x*rstd, g = weight*dy):
//   dx = rstd * (g - xhat * mean(g * xhat));   dweight[j] += sum_rows dy*xhat (fp32).
// dweight is nullable (frozen weight, as in QLoRA). dx may alias dy.
template <class T>
void rms_norm_bwd(const T* x, const T* weight, const float* rstd, const T* dy, T* dx,
                  float* dweight, int64_t rows, int64_t dim, Stream s);

}  // namespace ritsu::kernels::cpu

namespace ritsu::kernels::cuda {

template <class T>
void rms_norm_fwd(const T* x, const T* weight, T* y, float* rstd, int64_t rows, int64_t dim,
                  float eps, Stream s);
template <class T>
void rms_norm_bwd(const T* x, const T* weight, const float* rstd, const T* dy, T* dx,
                  float* dweight, int64_t rows, int64_t dim, Stream s);

}  // namespace ritsu::kernels::cuda
