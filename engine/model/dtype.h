// Storage element types of checkpoint tensors and their conversions to float.
// Conversions are done here (host side, on load/save) so the model code sees fp32 or the
// backend's own storage type; bf16 rounding is round-to-nearest-even like torch.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace ritsu::engine {

enum class DType { kF32, kF16, kBF16, kI32, kI64, kU8, kI8 };

// Safetensors spelling: "F32", "F16", "BF16", "I32", "I64", "U8", "I8".
const char* DTypeName(DType t);
// Parses the safetensors spelling; false when the dtype is not one we read.
bool ParseDType(std::string_view s, DType* out);
// Parses "bf16" / "fp16" / "float16" / "bfloat16" / "fp32" / "float32" (CLI and torch_dtype).
bool ParseFloatDTypeFlag(std::string_view s, DType* out);
size_t DTypeSize(DType t);

inline float Bf16BitsToFloat(uint16_t b) {
  uint32_t u = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline uint16_t FloatToBf16Bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu)) return 0x7fc0;  // NaN stays NaN
  u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest, ties to even
  return static_cast<uint16_t>(u >> 16);
}

// IEEE half via the compiler's _Float16 (x86-64 GCC >= 12 converts in software/F16C). Clang
// before 15 has no _Float16 on x86 (the clang fuzz build, scripts/fuzz), but its __fp16 storage
// type converts the same way on every target.
#if defined(__clang__) && !defined(__FLT16_MAX__)
using HalfFloat = __fp16;
#else
using HalfFloat = _Float16;
#endif

inline float F16BitsToFloat(uint16_t b) {
  HalfFloat h;
  std::memcpy(&h, &b, 2);
  return static_cast<float>(h);
}

inline uint16_t FloatToF16Bits(float f) {
  HalfFloat h = static_cast<HalfFloat>(f);
  uint16_t b;
  std::memcpy(&b, &h, 2);
  return b;
}

// Converts n elements of a float-like storage type (F32/F16/BF16) to float.
void ConvertToFloat(DType t, const void* src, float* dst, size_t n);
// Converts n floats into F32/F16/BF16 storage.
void ConvertFromFloat(DType t, const float* src, void* dst, size_t n);

}  // namespace ritsu::engine
