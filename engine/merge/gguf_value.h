// A GGUF metadata value: one of the thirteen GGUF value types, arrays included.
// Used both by the writer (what ritsu puts into a file) and the reader (what a file holds).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ritsu::merge {

// GGUF value type ids (gguf.h `enum gguf_type`), stored in the file.
enum class GgufValueType : uint32_t {
  kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7,
  kString = 8, kArray = 9, kU64 = 10, kI64 = 11, kF64 = 12,
};

const char* GgufValueTypeName(GgufValueType t);

struct GgufValue {
  GgufValueType type = GgufValueType::kU32;
  // Scalars: unsigned ids and bools in u, signed in i, floats in f; strings in s.
  uint64_t u = 0;
  int64_t i = 0;
  double f = 0;
  std::string s;
  // Arrays: element type and elements (each element a scalar or string GgufValue).
  GgufValueType elem_type = GgufValueType::kU8;
  std::vector<GgufValue> array;

  static GgufValue U32(uint32_t v) { GgufValue x; x.type = GgufValueType::kU32; x.u = v; return x; }
  static GgufValue I32(int32_t v) { GgufValue x; x.type = GgufValueType::kI32; x.i = v; return x; }
  static GgufValue F32(float v) { GgufValue x; x.type = GgufValueType::kF32; x.f = v; return x; }
  static GgufValue Bool(bool v) { GgufValue x; x.type = GgufValueType::kBool; x.u = v; return x; }
  static GgufValue Str(std::string v) {
    GgufValue x;
    x.type = GgufValueType::kString;
    x.s = std::move(v);
    return x;
  }
  static GgufValue StrArray(const std::vector<std::string>& v);
  static GgufValue I32Array(const std::vector<int32_t>& v);

  // A short human rendering for gguf-inspect: scalars in full, arrays as type[n] + first items.
  std::string ToString(size_t max_items = 5) const;
};

}  // namespace ritsu::merge
