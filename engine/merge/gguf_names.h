// HF Qwen2/Qwen3 tensor names -> llama.cpp GGUF tensor names (gguf-py constants.py
// MODEL_TENSOR names for the qwen2 / qwen3 architectures), and the reverse.
//
//   model.embed_tokens.weight                    token_embd.weight
//   model.norm.weight                            output_norm.weight
//   lm_head.weight                               output.weight (absent when embeddings are tied)
//   model.layers.N.input_layernorm.weight        blk.N.attn_norm.weight
//   model.layers.N.post_attention_layernorm.weight  blk.N.ffn_norm.weight
//   model.layers.N.self_attn.{q,k,v}_proj.{weight,bias}  blk.N.attn_{q,k,v}.{weight,bias}
//   model.layers.N.self_attn.o_proj.weight       blk.N.attn_output.weight
//   model.layers.N.self_attn.{q,k}_norm.weight   blk.N.attn_{q,k}_norm.weight (qwen3)
//   model.layers.N.mlp.{gate,up,down}_proj.weight  blk.N.ffn_{gate,up,down}.weight
#pragma once

#include <optional>
#include <string>

namespace ritsu::merge {

// nullopt for a name llama.cpp's qwen2/qwen3 graphs have no tensor for.
std::optional<std::string> HfToGgufName(const std::string& hf_name);
std::optional<std::string> GgufToHfName(const std::string& gguf_name);
// The block index of "blk.N.*", or -1.
int GgufLayerIndex(const std::string& gguf_name);

}  // namespace ritsu::merge
