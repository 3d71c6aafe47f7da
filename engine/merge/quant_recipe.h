// Which ggml type each tensor gets for a requested GGUF file type.
//
// f16 / bf16 / q8_0 follow llama.cpp's convert_hf_to_gguf.py: every 1-D tensor (norms, biases)
// stays F32, every 2-D weight gets the requested type (Q8_0 rows whose length is not a
// multiple of 32 fall back to F16).
//
// q4_k_m follows llama-quantize's LLAMA_FTYPE_MOSTLY_Q4_K_M rule (src/llama-quant.cpp,
// llama_tensor_get_type_impl) for dense qwen2/qwen3 models:
//   - default Q4_K;
//   - output.weight -> Q6_K; when the model has no output.weight (tied embeddings),
//     token_embd.weight takes that role and gets Q6_K; otherwise token_embd stays Q4_K;
//     when that tensor's row length is not a multiple of 256 it gets Q8_0 instead;
//   - attn_v.weight and ffn_down.weight of layer i -> Q6_K when use_more_bits(i, n_layer):
//     i < n/8 || i >= 7n/8 || (i - n/8) % 3 == 2 (about half the layers, the first and last
//     eighth always);
//   - fallback for rows not a multiple of 256: Q4_K -> Q5_0, Q6_K -> Q8_0, and F16 when the row
//     is not a multiple of 32 either;
//   - 1-D tensors and *_norm.weight stay F32.
// Not reproduced: llama.cpp bumps attn_v from Q4_K to Q5_K for its "70B" model type (80-layer
// qwen2, i.e. Qwen2-72B); ritsu keeps Q4_K there (see docs/merge.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/merge/ggml_types.h"

namespace ritsu::merge {

struct RecipeContext {
  GgufFileType file_type = GgufFileType::kMostlyF16;
  int n_layer = 0;
  bool has_output_tensor = true;  // false when embeddings are tied (no output.weight)
};

// ne in GGUF order (ne[0] = row length).
GgmlType ChooseTensorType(const RecipeContext& ctx, const std::string& gguf_name, const std::vector<int64_t>& ne);

// llama.cpp's use_more_bits(i_layer, n_layers).
bool UseMoreBits(int i_layer, int n_layers);

}  // namespace ritsu::merge
