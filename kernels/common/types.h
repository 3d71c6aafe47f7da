// Storage types shared by the CPU twins (g++) and the CUDA kernels (nvcc).
// ritsu::bf16 and ritsu::f16 are 16-bit structs with the same size, alignment and bit layout
// as __nv_bfloat16 / __half, so a device buffer of either can be passed by reinterpret_cast.
// This header includes no CUDA header on purpose: host code and the CPU-only build use it.
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define RITSU_HD __host__ __device__
#else
#define RITSU_HD
#endif

namespace ritsu {

// Bit casts that work in host and device code without <bit> (nvcc device code lacks it).
RITSU_HD inline uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}
RITSU_HD inline float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// bfloat16: the top 16 bits of an IEEE float. Conversion from float rounds to nearest even;
// NaN stays NaN (quiet), infinities stay infinities.
struct alignas(2) bf16 {
  uint16_t bits = 0;

  bf16() = default;
  RITSU_HD explicit bf16(float f) : bits(from_float(f)) {}
  RITSU_HD explicit operator float() const { return bits_float(uint32_t(bits) << 16); }
  RITSU_HD float to_float() const { return bits_float(uint32_t(bits) << 16); }

  RITSU_HD static uint16_t from_float(float f) {
    uint32_t u = float_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x0040u);  // quiet NaN
    uint32_t lsb = (u >> 16) & 1u;
    u += 0x7fffu + lsb;  // round to nearest, ties to even
    return uint16_t(u >> 16);
  }
  RITSU_HD static bf16 from_bits(uint16_t b) {
    bf16 h;
    h.bits = b;
    return h;
  }
};

// IEEE binary16. Conversion from float rounds to nearest even, with subnormals and overflow
// to infinity handled as the IEEE rules (and CUDA's __float2half_rn) do.
struct alignas(2) f16 {
  uint16_t bits = 0;

  f16() = default;
  RITSU_HD explicit f16(float f) : bits(from_float(f)) {}
  RITSU_HD explicit operator float() const { return to_float(); }

  RITSU_HD float to_float() const {
    uint32_t sign = uint32_t(bits & 0x8000u) << 16;
    uint32_t exp = (bits >> 10) & 0x1fu;
    uint32_t man = bits & 0x3ffu;
    if (exp == 0x1f) return bits_float(sign | 0x7f800000u | (man << 13));  // inf / NaN
    if (exp == 0) {
      if (man == 0) return bits_float(sign);
      // Subnormal: value = man * 2^-24, exact in float.
      float v = float(man) * 5.9604644775390625e-8f;
      return sign ? -v : v;
    }
    return bits_float(sign | ((exp + 112u) << 23) | (man << 13));
  }

  RITSU_HD static uint16_t from_float(float f) {
    uint32_t u = float_bits(f);
    uint16_t sign = uint16_t((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return uint16_t(sign | 0x7e00u);  // NaN
    if (a >= 0x477ff000u) return uint16_t(sign | 0x7c00u);  // rounds to >= 65520: inf
    if (a < 0x38800000u) {
      // Result is subnormal or zero: scale to units of 2^-24 and round to nearest even.
      if (a < 0x33000000u) return sign;  // below half of the smallest subnormal
      uint32_t exp = a >> 23;
      uint32_t man = (a & 0x7fffffu) | 0x800000u;
      uint32_t shift = 126u - exp;  // man * 2^(exp-150) / 2^-24 = man >> (126 - exp)
      uint32_t q = man >> shift;
      uint32_t rem = man & ((1u << shift) - 1u);
      uint32_t half = 1u << (shift - 1u);
      if (rem > half || (rem == half && (q & 1u))) ++q;
      return uint16_t(sign | q);
    }
    uint32_t r = a + 0xfffu + ((a >> 13) & 1u);  // round to nearest even at bit 13
    return uint16_t(sign | ((r - 0x38000000u) >> 13));
  }
  RITSU_HD static f16 from_bits(uint16_t b) {
    f16 h;
    h.bits = b;
    return h;
  }
};

static_assert(sizeof(bf16) == 2 && alignof(bf16) == 2);
static_assert(sizeof(f16) == 2 && alignof(f16) == 2);

// Overloads so templated kernels convert any storage type the same way.
RITSU_HD inline float to_float(float x) { return x; }
RITSU_HD inline float to_float(bf16 x) { return x.to_float(); }
RITSU_HD inline float to_float(f16 x) { return x.to_float(); }
template <class T>
RITSU_HD inline T from_float(float x);
template <>
RITSU_HD inline float from_float<float>(float x) { return x; }
template <>
RITSU_HD inline bf16 from_float<bf16>(float x) { return bf16(x); }
template <>
RITSU_HD inline f16 from_float<f16>(float x) { return f16(x); }

namespace kernels {
// A cudaStream_t passed as an opaque pointer so headers stay CUDA-free. nullptr = the default
// stream. CPU twins ignore it.
using Stream = void*;
}  // namespace kernels

}  // namespace ritsu
