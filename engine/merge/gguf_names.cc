#include "engine/merge/gguf_names.h"

#include <regex>
#include <utility>

namespace ritsu::merge {
namespace {

// Per-layer module paths (after "model.layers.N.") and their GGUF names (after "blk.N.").
const std::pair<const char*, const char*> kLayerNames[] = {
    {"input_layernorm", "attn_norm"},
    {"post_attention_layernorm", "ffn_norm"},
    {"self_attn.q_proj", "attn_q"},
    {"self_attn.k_proj", "attn_k"},
    {"self_attn.v_proj", "attn_v"},
    {"self_attn.o_proj", "attn_output"},
    {"self_attn.q_norm", "attn_q_norm"},
    {"self_attn.k_norm", "attn_k_norm"},
    {"mlp.gate_proj", "ffn_gate"},
    {"mlp.up_proj", "ffn_up"},
    {"mlp.down_proj", "ffn_down"},
};

const std::pair<const char*, const char*> kGlobalNames[] = {
    {"model.embed_tokens.weight", "token_embd.weight"},
    {"model.norm.weight", "output_norm.weight"},
    {"lm_head.weight", "output.weight"},
};

}  // namespace

std::optional<std::string> HfToGgufName(const std::string& hf) {
  for (const auto& [h, g] : kGlobalNames) {
    if (hf == h) return std::string(g);
  }
  static const std::regex kLayer(R"(model\.layers\.(\d+)\.(.+)\.(weight|bias))");
  std::smatch m;
  if (!std::regex_match(hf, m, kLayer)) return std::nullopt;
  for (const auto& [h, g] : kLayerNames) {
    if (m[2].str() == h) return "blk." + m[1].str() + "." + g + "." + m[3].str();
  }
  return std::nullopt;
}

std::optional<std::string> GgufToHfName(const std::string& gg) {
  for (const auto& [h, g] : kGlobalNames) {
    if (gg == g) return std::string(h);
  }
  static const std::regex kBlk(R"(blk\.(\d+)\.(.+)\.(weight|bias))");
  std::smatch m;
  if (!std::regex_match(gg, m, kBlk)) return std::nullopt;
  for (const auto& [h, g] : kLayerNames) {
    if (m[2].str() == g) return "model.layers." + m[1].str() + "." + h + "." + m[3].str();
  }
  return std::nullopt;
}

int GgufLayerIndex(const std::string& gg) {
  static const std::regex kBlk(R"(blk\.(\d+)\..*)");
  std::smatch m;
  if (!std::regex_match(gg, m, kBlk)) return -1;
  return std::stoi(m[1].str());
}

}  // namespace ritsu::merge
