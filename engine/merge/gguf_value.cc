#include "engine/merge/gguf_value.h"

#include <fmt/format.h>

namespace ritsu::merge {

const char* GgufValueTypeName(GgufValueType t) {
  switch (t) {
    case GgufValueType::kU8: return "u8";
    case GgufValueType::kI8: return "i8";
    case GgufValueType::kU16: return "u16";
    case GgufValueType::kI16: return "i16";
    case GgufValueType::kU32: return "u32";
    case GgufValueType::kI32: return "i32";
    case GgufValueType::kF32: return "f32";
    case GgufValueType::kBool: return "bool";
    case GgufValueType::kString: return "str";
    case GgufValueType::kArray: return "arr";
    case GgufValueType::kU64: return "u64";
    case GgufValueType::kI64: return "i64";
    case GgufValueType::kF64: return "f64";
  }
  return "?";
}

GgufValue GgufValue::StrArray(const std::vector<std::string>& v) {
  GgufValue x;
  x.type = GgufValueType::kArray;
  x.elem_type = GgufValueType::kString;
  x.array.reserve(v.size());
  for (const auto& s : v) x.array.push_back(Str(s));
  return x;
}

GgufValue GgufValue::I32Array(const std::vector<int32_t>& v) {
  GgufValue x;
  x.type = GgufValueType::kArray;
  x.elem_type = GgufValueType::kI32;
  x.array.reserve(v.size());
  for (int32_t e : v) x.array.push_back(I32(e));
  return x;
}

std::string GgufValue::ToString(size_t max_items) const {
  switch (type) {
    case GgufValueType::kU8: case GgufValueType::kU16: case GgufValueType::kU32:
    case GgufValueType::kU64:
      return std::to_string(u);
    case GgufValueType::kI8: case GgufValueType::kI16: case GgufValueType::kI32:
    case GgufValueType::kI64:
      return std::to_string(i);
    case GgufValueType::kF32: case GgufValueType::kF64:
      return fmt::format("{:g}", f);
    case GgufValueType::kBool:
      return u ? "true" : "false";
    case GgufValueType::kString: {
      std::string shown = s.size() > 60 ? s.substr(0, 60) + "..." : s;
      for (char& c : shown) {
        if (c == '\n') c = ' ';
      }
      return fmt::format("\"{}\"{}", shown, s.size() > 60 ? fmt::format(" ({} bytes)", s.size()) : "");
    }
    case GgufValueType::kArray: {
      std::string out = fmt::format("{}[{}] [", GgufValueTypeName(elem_type), array.size());
      for (size_t k = 0; k < array.size() && k < max_items; ++k) {
        out += (k ? ", " : "") + array[k].ToString(0);
      }
      return out + (array.size() > max_items ? ", ...]" : "]");
    }
  }
  return "?";
}

}  // namespace ritsu::merge
