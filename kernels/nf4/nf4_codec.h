// Scalar NF4 / 8-bit-dynamic encode and decode shared by the CPU twin and the CUDA kernels, so
// both quantize to the same bits. The search rules follow bitsandbytes' kernels: NF4 is the
// count of decision thresholds (midpoints of adjacent levels) that x exceeds with '>'; the
// 8-bit absmax code is a 7-step binary search over the sorted 256-entry map followed by a
// choice of the nearer neighbour (ties to the lower side when x <= the pivot value, upper
// otherwise), the same decision bitsandbytes' dQuantize makes without stochastic rounding.
#pragma once

#include <cstdint>

#include "kernels/common/types.h"
#include "kernels/nf4/nf4.h"

namespace ritsu::kernels {

RITSU_HD inline uint8_t nf4_encode(float x) {
  // Midpoints between consecutive kNf4Code levels, computed in double and rounded to float.
  constexpr float kThreshold[15] = {
      float((-1.0 + -0.6961928009986877) / 2), float((-0.6961928009986877 + -0.5250730514526367) / 2),
      float((-0.5250730514526367 + -0.39491748809814453) / 2),
      float((-0.39491748809814453 + -0.28444138169288635) / 2),
      float((-0.28444138169288635 + -0.18477343022823334) / 2),
      float((-0.18477343022823334 + -0.09105003625154495) / 2), float((-0.09105003625154495 + 0.0) / 2),
      float((0.0 + 0.07958029955625534) / 2), float((0.07958029955625534 + 0.16093020141124725) / 2),
      float((0.16093020141124725 + 0.24611230194568634) / 2),
      float((0.24611230194568634 + 0.33791524171829224) / 2),
      float((0.33791524171829224 + 0.44070982933044434) / 2),
      float((0.44070982933044434 + 0.5626170039176941) / 2),
      float((0.5626170039176941 + 0.7229568362236023) / 2), float((0.7229568362236023 + 1.0) / 2)};
  uint8_t q = 0;
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
  for (int i = 0; i < 15; ++i) q += (x > kThreshold[i]) ? 1 : 0;
  return q;
}

// Index of the level of the sorted 256-entry map `code` chosen for x (x in [-1, 1]).
RITSU_HD inline uint8_t dynamic_map_encode(const float* code, float x) {
  int pivot = 127, upper_pivot = 255, lower_pivot = 0;
  float lower = -1.0f, upper = 1.0f;
  float val = code[pivot];
  for (int step = 64; step > 0; step >>= 1) {
    if (x > val) {
      lower_pivot = pivot;
      lower = val;
      pivot += step;
    } else {
      upper_pivot = pivot;
      upper = val;
      pivot -= step;
    }
    val = code[pivot];
  }
  if (upper_pivot == 255) upper = code[upper_pivot];
  if (lower_pivot == 0) lower = code[lower_pivot];
  if (x > val) return uint8_t(x > (upper + val) * 0.5f ? upper_pivot : pivot);
  return uint8_t(x < (lower + val) * 0.5f ? lower_pivot : pivot);
}

// Level i of the NF4 code, usable in device code (kNf4Code is a host constant).
RITSU_HD inline float nf4_level(int i) {
  constexpr float kLevels[16] = {RITSU_NF4_LEVELS};
  return kLevels[i];
}

// The 4-bit code of element e of a packed array (element 2i in the high nibble).
RITSU_HD inline uint8_t nf4_nibble(const uint8_t* packed, int64_t e) {
  uint8_t byte = packed[e >> 1];
  return (e & 1) ? (byte & 0x0f) : (byte >> 4);
}

}  // namespace ritsu::kernels
