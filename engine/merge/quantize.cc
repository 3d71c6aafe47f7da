#include "engine/merge/quantize.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/model/dtype.h"

namespace ritsu::merge {
namespace {

using engine::F16BitsToFloat;
using engine::FloatToF16Bits;

constexpr int64_t kQK = 32;    // Q8_0 / Q5_0 block
constexpr int64_t kQKK = 256;  // k-quant super-block
constexpr float kF16SubnormalStep = 5.9604645e-08f;  // 2^-24

void PutBits(uint8_t* p, uint16_t b) { std::memcpy(p, &b, 2); }

uint16_t GetBits(const uint8_t* p) {
  uint16_t b;
  std::memcpy(&b, p, 2);
  return b;
}

void PutF16(uint8_t* p, float v) { PutBits(p, FloatToF16Bits(v)); }
float GetF16(const uint8_t* p) { return F16BitsToFloat(GetBits(p)); }

// The smallest fp16 value >= v (v >= 0): k-quant scales are rounded up so that the range they
// cover never shrinks below what the sub-block needs.
uint16_t CeilF16Bits(float v) {
  uint16_t b = FloatToF16Bits(v);
  if (F16BitsToFloat(b) < v) ++b;  // positive halves are ordered like their bit patterns
  return b;
}

// ---- Q8_0: d = absmax/127, q = roundf(x/d): the same codes as ggml's reference quantizer.
void QuantizeQ8_0(const float* x, int64_t n, uint8_t* out) {
  for (int64_t b = 0; b < n / kQK; ++b, x += kQK, out += 34) {
    float amax = 0;
    for (int i = 0; i < kQK; ++i) amax = std::max(amax, std::fabs(x[i]));
    const float d = amax / 127.0f;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    PutF16(out, d);
    for (int i = 0; i < kQK; ++i) {
      out[2 + i] = static_cast<uint8_t>(static_cast<int8_t>(std::round(x[i] * id)));
    }
  }
}

void DequantizeQ8_0(const uint8_t* in, int64_t n, float* y) {
  for (int64_t b = 0; b < n / kQK; ++b, in += 34, y += kQK) {
    const float d = GetF16(in);
    for (int i = 0; i < kQK; ++i) y[i] = d * static_cast<float>(static_cast<int8_t>(in[2 + i]));
  }
}

// ---- Q5_0: d = (signed value of largest magnitude)/-16, codes 0..31 offset by 16; the low four
// bits of value j (j < 16) and j+16 share byte j, the fifth bits form a little-endian uint32.
void QuantizeQ5_0(const float* x, int64_t n, uint8_t* out) {
  for (int64_t b = 0; b < n / kQK; ++b, x += kQK, out += 22) {
    float amax = 0, vmax = 0;
    for (int i = 0; i < kQK; ++i) {
      if (std::fabs(x[i]) > amax) {
        amax = std::fabs(x[i]);
        vmax = x[i];
      }
    }
    const float d = vmax / -16.0f;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    PutF16(out, d);
    uint32_t qh = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      const int q0 = std::min(31, static_cast<int>(static_cast<int8_t>(x[j] * id + 16.5f)));
      const int q1 = std::min(31, static_cast<int>(static_cast<int8_t>(x[j + 16] * id + 16.5f)));
      out[6 + j] = static_cast<uint8_t>((q0 & 0x0F) | ((q1 & 0x0F) << 4));
      qh |= static_cast<uint32_t>((q0 >> 4) & 1) << j;
      qh |= static_cast<uint32_t>((q1 >> 4) & 1) << (j + 16);
    }
    for (int k = 0; k < 4; ++k) out[2 + k] = static_cast<uint8_t>(qh >> (8 * k));
  }
}

void DequantizeQ5_0(const uint8_t* in, int64_t n, float* y) {
  for (int64_t b = 0; b < n / kQK; ++b, in += 22, y += kQK) {
    const float d = GetF16(in);
    uint32_t qh = 0;
    for (int k = 0; k < 4; ++k) qh |= static_cast<uint32_t>(in[2 + k]) << (8 * k);
    for (int j = 0; j < kQK / 2; ++j) {
      const int q0 = (in[6 + j] & 0x0F) | static_cast<int>(((qh >> j) & 1) << 4);
      const int q1 = (in[6 + j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1) << 4);
      y[j] = d * static_cast<float>(q0 - 16);
      y[j + 16] = d * static_cast<float>(q1 - 16);
    }
  }
}

// ---- Q4_K: 8 sub-blocks of 32; value = d*sc[j]*q - dmin*m[j], q in 0..15, sc/m 6-bit.
// scales[12] packing: bytes 0-3 hold sc[0..3] in the low 6 bits and bits 4-5 of sc[4..7] in the
// top 2; bytes 4-7 the same for m; bytes 8-11 hold the low 4 bits of sc[4..7] (low nibble) and
// of m[4..7] (high nibble). qs: four 32-byte groups; group g holds sub-block 2g in the low
// nibbles and sub-block 2g+1 in the high nibbles.
void PackScalesMins(const int sc[8], const int m[8], uint8_t* s) {
  for (int j = 0; j < 4; ++j) {
    s[j] = static_cast<uint8_t>((sc[j] & 0x3F) | ((sc[j + 4] >> 4) << 6));
    s[j + 4] = static_cast<uint8_t>((m[j] & 0x3F) | ((m[j + 4] >> 4) << 6));
    s[j + 8] = static_cast<uint8_t>((sc[j + 4] & 0x0F) | ((m[j + 4] & 0x0F) << 4));
  }
}

void UnpackScalesMins(const uint8_t* s, int sc[8], int m[8]) {
  for (int j = 0; j < 4; ++j) {
    sc[j] = s[j] & 0x3F;
    m[j] = s[j + 4] & 0x3F;
    sc[j + 4] = (s[j + 8] & 0x0F) | ((s[j] >> 6) << 4);
    m[j + 4] = (s[j + 8] >> 4) | ((s[j + 4] >> 6) << 4);
  }
}

// Per sub-block: the shift that makes all values >= 0, and the step that then spans 15 codes.
struct Q4KPlan {
  float shift_need[8];
  float hi[8];
};

Q4KPlan PlanQ4K(const float* x) {
  Q4KPlan p{};
  for (int j = 0; j < 8; ++j) {
    float lo = x[32 * j], hi = x[32 * j];
    for (int i = 1; i < 32; ++i) {
      lo = std::min(lo, x[32 * j + i]);
      hi = std::max(hi, x[32 * j + i]);
    }
    p.shift_need[j] = std::max(0.0f, -lo);
    p.hi[j] = hi;
  }
  return p;
}

void QuantizeQ4_K(const float* x, int64_t n, uint8_t* out) {
  for (int64_t b = 0; b < n / kQKK; ++b, x += kQKK, out += 144) {
    const Q4KPlan p = PlanQ4K(x);
    float max_shift = 0;
    for (int j = 0; j < 8; ++j) max_shift = std::max(max_shift, p.shift_need[j]);
    const uint16_t dmin_bits = CeilF16Bits(max_shift / 63.0f);
    const float dmin = F16BitsToFloat(dmin_bits);
    int m[8], sc[8];
    float need[8], max_need = 0;
    for (int j = 0; j < 8; ++j) {
      m[j] = dmin > 0 ? std::min(63, static_cast<int>(std::ceil(p.shift_need[j] / dmin))) : 0;
      need[j] = std::max(0.0f, (p.hi[j] + dmin * static_cast<float>(m[j])) / 15.0f);
      max_need = std::max(max_need, need[j]);
    }
    const uint16_t d_bits = CeilF16Bits(max_need / 63.0f);
    const float d = F16BitsToFloat(d_bits);
    for (int j = 0; j < 8; ++j) {
      sc[j] = d > 0 ? std::min(63, static_cast<int>(std::ceil(need[j] / d))) : 0;
    }
    std::memcpy(out, &d_bits, 2);
    std::memcpy(out + 2, &dmin_bits, 2);
    PackScalesMins(sc, m, out + 4);
    uint8_t* qs = out + 16;
    std::memset(qs, 0, 128);
    for (int j = 0; j < 8; ++j) {
      const float ds = d * static_cast<float>(sc[j]);
      const float dm = dmin * static_cast<float>(m[j]);
      for (int i = 0; i < 32; ++i) {
        int q = 0;
        if (ds > 0) q = std::clamp(static_cast<int>(std::lround((x[32 * j + i] + dm) / ds)), 0, 15);
        qs[32 * (j / 2) + i] |= static_cast<uint8_t>(q << (4 * (j % 2)));
      }
    }
  }
}

void DequantizeQ4_K(const uint8_t* in, int64_t n, float* y) {
  for (int64_t b = 0; b < n / kQKK; ++b, in += 144, y += kQKK) {
    const float d = GetF16(in);
    const float dmin = GetF16(in + 2);
    int sc[8], m[8];
    UnpackScalesMins(in + 4, sc, m);
    const uint8_t* qs = in + 16;
    for (int j = 0; j < 8; ++j) {
      const float ds = d * static_cast<float>(sc[j]);
      const float dm = dmin * static_cast<float>(m[j]);
      for (int i = 0; i < 32; ++i) {
        const int q = (qs[32 * (j / 2) + i] >> (4 * (j % 2))) & 0x0F;
        y[32 * j + i] = ds * static_cast<float>(q) - dm;
      }
    }
  }
}

// ---- Q6_K: 16 sub-blocks of 16; value = d*sc[j]*(q-32), q in 0..63, sc int8.
// Element e of half h (e = 128h + i): low 4 bits in ql[64h + i%64] (low nibble when i < 64,
// high nibble otherwise), high 2 bits in qh[32h + i%32] at bit 2*(i/32).
void QuantizeQ6_K(const float* x, int64_t n, uint8_t* out) {
  for (int64_t b = 0; b < n / kQKK; ++b, x += kQKK, out += 210) {
    float step[16], max_step = 0;
    for (int j = 0; j < 16; ++j) {
      float a = 0;
      for (int i = 0; i < 16; ++i) a = std::max(a, std::fabs(x[16 * j + i]));
      // codes -32..31: a step of a/31.5 puts +a at most half a step above code 31.
      step[j] = a / 31.5f;
      max_step = std::max(max_step, step[j]);
    }
    const uint16_t d_bits = CeilF16Bits(max_step / 127.0f);
    const float d = F16BitsToFloat(d_bits);
    uint8_t* ql = out;
    uint8_t* qh = out + 128;
    auto* scales = reinterpret_cast<int8_t*>(out + 192);
    std::memset(out, 0, 192);
    for (int j = 0; j < 16; ++j) {
      const int sc = d > 0 ? std::min(127, static_cast<int>(std::ceil(step[j] / d))) : 0;
      scales[j] = static_cast<int8_t>(sc);
      const float ds = d * static_cast<float>(sc);
      for (int i = 0; i < 16; ++i) {
        const int e = 16 * j + i;
        int q = 0;
        if (ds > 0) q = std::clamp(static_cast<int>(std::lround(x[e] / ds)), -32, 31);
        const int u = q + 32;
        const int h = e / 128, r = e % 128;
        ql[64 * h + r % 64] |= static_cast<uint8_t>((u & 0x0F) << (r < 64 ? 0 : 4));
        qh[32 * h + r % 32] |= static_cast<uint8_t>((u >> 4) << (2 * (r / 32)));
      }
    }
    std::memcpy(out + 208, &d_bits, 2);
  }
}

void DequantizeQ6_K(const uint8_t* in, int64_t n, float* y) {
  for (int64_t b = 0; b < n / kQKK; ++b, in += 210, y += kQKK) {
    const uint8_t* ql = in;
    const uint8_t* qh = in + 128;
    const auto* scales = reinterpret_cast<const int8_t*>(in + 192);
    const float d = GetF16(in + 208);
    for (int e = 0; e < 256; ++e) {
      const int h = e / 128, r = e % 128;
      const int lo = (ql[64 * h + r % 64] >> (r < 64 ? 0 : 4)) & 0x0F;
      const int hi = (qh[32 * h + r % 32] >> (2 * (r / 32))) & 0x03;
      y[e] = d * static_cast<float>(scales[e / 16]) * static_cast<float>((lo | (hi << 4)) - 32);
    }
  }
}

float AbsMax(const float* x, int64_t n) {
  float a = 0;
  for (int64_t i = 0; i < n; ++i) a = std::max(a, std::fabs(x[i]));
  return a;
}

// Relative slack for float rounding inside the codecs (a few f32 ulps of the block's scale).
constexpr float kRel = 1e-6f;

}  // namespace

void QuantizeRow(GgmlType t, const float* src, int64_t n, uint8_t* dst) {
  switch (t) {
    case GgmlType::kF32: std::memcpy(dst, src, static_cast<size_t>(n) * 4); return;
    case GgmlType::kF16:
      for (int64_t i = 0; i < n; ++i) PutBits(dst + 2 * i, FloatToF16Bits(src[i]));
      return;
    case GgmlType::kBF16:
      for (int64_t i = 0; i < n; ++i) PutBits(dst + 2 * i, engine::FloatToBf16Bits(src[i]));
      return;
    case GgmlType::kQ8_0: QuantizeQ8_0(src, n, dst); return;
    case GgmlType::kQ5_0: QuantizeQ5_0(src, n, dst); return;
    case GgmlType::kQ4_K: QuantizeQ4_K(src, n, dst); return;
    case GgmlType::kQ6_K: QuantizeQ6_K(src, n, dst); return;
  }
}

void DequantizeRow(GgmlType t, const uint8_t* src, int64_t n, float* dst) {
  switch (t) {
    case GgmlType::kF32: std::memcpy(dst, src, static_cast<size_t>(n) * 4); return;
    case GgmlType::kF16:
      for (int64_t i = 0; i < n; ++i) dst[i] = GetF16(src + 2 * i);
      return;
    case GgmlType::kBF16:
      for (int64_t i = 0; i < n; ++i) dst[i] = engine::Bf16BitsToFloat(GetBits(src + 2 * i));
      return;
    case GgmlType::kQ8_0: DequantizeQ8_0(src, n, dst); return;
    case GgmlType::kQ5_0: DequantizeQ5_0(src, n, dst); return;
    case GgmlType::kQ4_K: DequantizeQ4_K(src, n, dst); return;
    case GgmlType::kQ6_K: DequantizeQ6_K(src, n, dst); return;
  }
}

void QuantErrorBounds(GgmlType t, const float* x, int64_t n, float* bound) {
  switch (t) {
    case GgmlType::kF32:
      std::fill(bound, bound + n, 0.0f);
      return;
    case GgmlType::kF16:
      for (int64_t i = 0; i < n; ++i) bound[i] = std::fabs(x[i]) * 0x1p-11f + 0x1p-25f;
      return;
    case GgmlType::kBF16:
      for (int64_t i = 0; i < n; ++i) bound[i] = std::fabs(x[i]) * 0x1p-8f + 0x1p-126f;
      return;
    case GgmlType::kQ8_0:
    case GgmlType::kQ5_0: {
      const bool q8 = t == GgmlType::kQ8_0;
      for (int64_t b = 0; b < n / kQK; ++b) {
        const float a = AbsMax(x + b * kQK, kQK);
        // the fp16 scale may be subnormal: its absolute rounding (2^-25) times the largest code
        const float sub = (q8 ? 127.0f : 16.0f) * 0x1p-25f;
        const float e = (q8 ? a / 254.0f : a / 16.0f) + a / 2048.0f + a * kRel + sub;
        std::fill(bound + b * kQK, bound + (b + 1) * kQK, e);
      }
      return;
    }
    case GgmlType::kQ4_K:
      for (int64_t b = 0; b < n / kQKK; ++b) {
        const float* xb = x + b * kQKK;
        const Q4KPlan p = PlanQ4K(xb);
        float max_shift = 0, max_range = 0;
        for (int j = 0; j < 8; ++j) {
          max_shift = std::max(max_shift, p.shift_need[j]);
          max_range = std::max(max_range, p.hi[j] + p.shift_need[j]);
        }
        const float dmin = max_shift / 63.0f * (1 + 0x1p-10f) + kF16SubnormalStep;
        const float d = (max_range + dmin) / 15.0f / 63.0f * (1 + 0x1p-10f) + kF16SubnormalStep;
        const float a = AbsMax(xb, kQKK);
        for (int j = 0; j < 8; ++j) {
          const float range = p.hi[j] + p.shift_need[j];
          const float e = (range + dmin) / 30.0f + d / 2.0f + a * kRel;
          std::fill(bound + b * kQKK + 32 * j, bound + b * kQKK + 32 * (j + 1), e);
        }
      }
      return;
    case GgmlType::kQ6_K:
      for (int64_t b = 0; b < n / kQKK; ++b) {
        const float* xb = x + b * kQKK;
        const float a = AbsMax(xb, kQKK);
        const float d = a / 31.5f / 127.0f * (1 + 0x1p-10f) + kF16SubnormalStep;
        for (int j = 0; j < 16; ++j) {
          const float aj = AbsMax(xb + 16 * j, 16);
          const float e = aj / 63.0f + d / 2.0f + a * kRel;
          std::fill(bound + b * kQKK + 16 * j, bound + b * kQKK + 16 * (j + 1), e);
        }
      }
      return;
  }
}

}  // namespace ritsu::merge
