#include "engine/merge/quant_recipe.h"

#include "engine/merge/gguf_names.h"

namespace ritsu::merge {
namespace {

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool Contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

// llama-quant.cpp tensor_type_fallback, for the types this recipe produces.
GgmlType Fallback(GgmlType t, int64_t ncols) {
  if (ncols % TraitsOf(t).block_elems == 0) return t;
  GgmlType r = t;
  if (t == GgmlType::kQ4_K) r = GgmlType::kQ5_0;
  if (t == GgmlType::kQ6_K) r = GgmlType::kQ8_0;
  if (ncols % TraitsOf(r).block_elems != 0) r = GgmlType::kF16;
  return r;
}

}  // namespace

bool UseMoreBits(int i_layer, int n_layers) {
  return i_layer < n_layers / 8 || i_layer >= 7 * n_layers / 8 || (i_layer - n_layers / 8) % 3 == 2;
}

GgmlType ChooseTensorType(const RecipeContext& ctx, const std::string& name, const std::vector<int64_t>& ne) {
  if (ne.size() < 2 || !EndsWith(name, "weight") || Contains(name, "_norm.weight")) return GgmlType::kF32;
  const int64_t ncols = ne[0];
  switch (ctx.file_type) {
    case GgufFileType::kAllF32: return GgmlType::kF32;
    case GgufFileType::kMostlyF16: return GgmlType::kF16;
    case GgufFileType::kMostlyBF16: return GgmlType::kBF16;
    case GgufFileType::kMostlyQ8_0: return ncols % 32 == 0 ? GgmlType::kQ8_0 : GgmlType::kF16;
    case GgufFileType::kMostlyQ4_K_M: break;
  }
  const bool is_output = name == "output.weight" || (!ctx.has_output_tensor && name == "token_embd.weight");
  GgmlType t = GgmlType::kQ4_K;
  if (is_output) {
    t = ncols % 256 != 0 ? GgmlType::kQ8_0 : GgmlType::kQ6_K;
  } else if (Contains(name, "attn_v.weight") || Contains(name, "ffn_down")) {
    if (UseMoreBits(GgufLayerIndex(name), ctx.n_layer)) t = GgmlType::kQ6_K;
  }
  return Fallback(t, ncols);
}

}  // namespace ritsu::merge
