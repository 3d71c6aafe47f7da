// Philox4x32-10 counter-based RNG (Salmon et al., "Parallel random numbers: as easy as 1, 2,
// 3", SC'11): a pure function of (key, counter), so the CPU and the GPU draw the same number
// for the same (seed, step) with no state to carry. Host and device code.
#pragma once

#include <cstdint>

#include "kernels/common/types.h"

namespace ritsu::kernels {

struct Philox4x32 {
  uint32_t v[4];
};

RITSU_HD inline Philox4x32 philox4x32_10(uint64_t key, uint64_t counter_lo, uint64_t counter_hi) {
  uint32_t c0 = uint32_t(counter_lo), c1 = uint32_t(counter_lo >> 32);
  uint32_t c2 = uint32_t(counter_hi), c3 = uint32_t(counter_hi >> 32);
  uint32_t k0 = uint32_t(key), k1 = uint32_t(key >> 32);
  for (int round = 0; round < 10; ++round) {
    uint64_t p0 = uint64_t(0xD2511F53u) * c0;
    uint64_t p1 = uint64_t(0xCD9E8D57u) * c2;
    uint32_t hi0 = uint32_t(p0 >> 32), lo0 = uint32_t(p0);
    uint32_t hi1 = uint32_t(p1 >> 32), lo1 = uint32_t(p1);
    uint32_t n0 = hi1 ^ c1 ^ k0;
    uint32_t n1 = lo1;
    uint32_t n2 = hi0 ^ c3 ^ k1;
    uint32_t n3 = lo0;
    c0 = n0; c1 = n1; c2 = n2; c3 = n3;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return Philox4x32{{c0, c1, c2, c3}};
}

// A uniform float in [0, 1) from the top 24 bits of the first output word.
RITSU_HD inline float philox_uniform(uint64_t seed, uint64_t counter) {
  Philox4x32 r = philox4x32_10(seed, counter, 0);
  return float(r.v[0] >> 8) * (1.0f / 16777216.0f);
}

}  // namespace ritsu::kernels
