#include "engine/model/dtype.h"

namespace ritsu::engine {

const char* DTypeName(DType t) {
  switch (t) {
    case DType::kF32: return "F32";
    case DType::kF16: return "F16";
    case DType::kBF16: return "BF16";
    case DType::kI32: return "I32";
    case DType::kI64: return "I64";
    case DType::kU8: return "U8";
    case DType::kI8: return "I8";
  }
  return "?";
}

bool ParseDType(std::string_view s, DType* out) {
  static const std::pair<std::string_view, DType> kNames[] = {
      {"F32", DType::kF32}, {"F16", DType::kF16}, {"BF16", DType::kBF16}, {"I32", DType::kI32},
      {"I64", DType::kI64}, {"U8", DType::kU8},   {"I8", DType::kI8}};
  for (const auto& [name, t] : kNames) {
    if (s == name) {
      *out = t;
      return true;
    }
  }
  return false;
}

bool ParseFloatDTypeFlag(std::string_view s, DType* out) {
  if (s == "bf16" || s == "bfloat16") *out = DType::kBF16;
  else if (s == "fp16" || s == "float16" || s == "f16") *out = DType::kF16;
  else if (s == "fp32" || s == "float32" || s == "f32") *out = DType::kF32;
  else return false;
  return true;
}

size_t DTypeSize(DType t) {
  switch (t) {
    case DType::kF32: case DType::kI32: return 4;
    case DType::kF16: case DType::kBF16: return 2;
    case DType::kI64: return 8;
    case DType::kU8: case DType::kI8: return 1;
  }
  return 0;
}

void ConvertToFloat(DType t, const void* src, float* dst, size_t n) {
  if (n == 0) return;  // an empty tensor's vector may have no storage: memcpy(nullptr, ...) is UB
  if (t == DType::kF32) {
    std::memcpy(dst, src, n * 4);
    return;
  }
  const auto* p = static_cast<const uint8_t*>(src);
  for (size_t i = 0; i < n; ++i) {
    uint16_t b;
    std::memcpy(&b, p + 2 * i, 2);  // unaligned-safe: shard offsets need not be aligned
    dst[i] = t == DType::kBF16 ? Bf16BitsToFloat(b) : F16BitsToFloat(b);
  }
}

void ConvertFromFloat(DType t, const float* src, void* dst, size_t n) {
  if (n == 0) return;
  if (t == DType::kF32) {
    std::memcpy(dst, src, n * 4);
    return;
  }
  auto* p = static_cast<uint8_t*>(dst);
  for (size_t i = 0; i < n; ++i) {
    uint16_t b = t == DType::kBF16 ? FloatToBf16Bits(src[i]) : FloatToF16Bits(src[i]);
    std::memcpy(p + 2 * i, &b, 2);
  }
}

}  // namespace ritsu::engine
