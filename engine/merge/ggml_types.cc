#include "engine/merge/ggml_types.h"

#include <algorithm>
#include <cctype>

namespace ritsu::merge {
namespace {

// Block byte sizes: Q8_0 = fp16 d + 32 int8; Q5_0 = fp16 d + 4 bytes high bits + 16 bytes of
// nibbles; Q4_K = fp16 d + fp16 dmin + 12 bytes of 6-bit scales/mins + 128 bytes of nibbles;
// Q6_K = 128 bytes low nibbles + 64 bytes high 2-bit pairs + 16 int8 scales + fp16 d.
constexpr GgmlTypeTraits kTypes[] = {
    {GgmlType::kF32, "f32", 1, 4},      {GgmlType::kF16, "f16", 1, 2},
    {GgmlType::kQ5_0, "q5_0", 32, 22},  {GgmlType::kQ8_0, "q8_0", 32, 34},
    {GgmlType::kQ4_K, "q4_K", 256, 144}, {GgmlType::kQ6_K, "q6_K", 256, 210},
    {GgmlType::kBF16, "bf16", 1, 2},
};

}  // namespace

std::optional<GgmlTypeTraits> FindGgmlType(uint32_t id) {
  for (const auto& t : kTypes) {
    if (static_cast<uint32_t>(t.type) == id) return t;
  }
  return std::nullopt;
}

const GgmlTypeTraits& TraitsOf(GgmlType t) {
  for (const auto& tr : kTypes) {
    if (tr.type == t) return tr;
  }
  return kTypes[0];  // unreachable: every enumerator is in the table
}

const char* GgmlTypeName(GgmlType t) { return TraitsOf(t).name; }

size_t RowBytes(GgmlType t, int64_t n) {
  const auto& tr = TraitsOf(t);
  return static_cast<size_t>(n / tr.block_elems) * tr.block_bytes;
}

std::optional<GgufFileType> ParseGgufFileType(std::string_view s) {
  std::string lower(s);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "f16" || lower == "fp16") return GgufFileType::kMostlyF16;
  if (lower == "bf16") return GgufFileType::kMostlyBF16;
  if (lower == "q8_0") return GgufFileType::kMostlyQ8_0;
  if (lower == "q4_k_m") return GgufFileType::kMostlyQ4_K_M;
  return std::nullopt;
}

const char* GgufFileTypeName(GgufFileType t) {
  switch (t) {
    case GgufFileType::kAllF32: return "f32";
    case GgufFileType::kMostlyF16: return "f16";
    case GgufFileType::kMostlyQ8_0: return "q8_0";
    case GgufFileType::kMostlyQ4_K_M: return "q4_k_m";
    case GgufFileType::kMostlyBF16: return "bf16";
  }
  return "?";
}

}  // namespace ritsu::merge
