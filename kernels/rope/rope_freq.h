// The RoPE inverse frequency exactly as HF computes it in fp32:
//   inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2).float() / dim))
// i.e. exponent (2i)/dim rounded to fp32, pow in fp32, reciprocal in fp32. Shared by the CPU
// twin and the CUDA kernel so both use the same angles.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/common/types.h"

namespace ritsu::kernels {

RITSU_HD inline float rope_inv_freq(int64_t i, int64_t head_dim, float theta) {
  float exponent = float(2 * i) / float(head_dim);
  return 1.0f / powf(theta, exponent);
}

}  // namespace ritsu::kernels
