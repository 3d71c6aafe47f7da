#include "engine/merge/gguf_verify.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <vector>

#include "engine/merge/gguf_names.h"
#include "engine/merge/quantize.h"
#include "engine/model/config.h"
#include "engine/model/safetensors.h"

namespace ritsu::merge {
namespace {

Status CheckU32(const GgufFile& g, const std::string& key, int64_t want) {
  const GgufValue* v = g.Find(key);
  if (!v) return Status::Corruption(fmt::format("{}: metadata key {} is missing", g.path(), key));
  if (v->type != GgufValueType::kU32 || static_cast<int64_t>(v->u) != want) {
    return Status::Corruption(fmt::format("{}: {} is {} but the model says {}", g.path(), key, v->ToString(), want));
  }
  return Status::Ok();
}

}  // namespace

Result<GgufVerifyResult> VerifyGgufAgainst(const GgufFile& g, const std::string& model_dir) {
  RITSU_ASSIGN_OR_RETURN(engine::ModelConfig config, engine::LoadModelConfig(model_dir));
  RITSU_ASSIGN_OR_RETURN(auto ck, engine::Checkpoint::OpenDir(model_dir));
  const std::string arch = config.arch == engine::Arch::kQwen2 ? "qwen2" : "qwen3";
  const GgufValue* a = g.Find("general.architecture");
  if (!a || a->type != GgufValueType::kString || a->s != arch) {
    return Status::Corruption(fmt::format("{}: general.architecture is {} but {} is {}", g.path(),
                                          a ? a->ToString() : "missing", model_dir, arch));
  }
  RITSU_RETURN_IF_ERROR(CheckU32(g, arch + ".block_count", config.num_hidden_layers));
  RITSU_RETURN_IF_ERROR(CheckU32(g, arch + ".embedding_length", config.hidden_size));
  RITSU_RETURN_IF_ERROR(CheckU32(g, arch + ".feed_forward_length", config.intermediate_size));
  RITSU_RETURN_IF_ERROR(CheckU32(g, arch + ".attention.head_count", config.num_attention_heads));
  RITSU_RETURN_IF_ERROR(CheckU32(g, arch + ".attention.head_count_kv", config.num_key_value_heads));
  const GgufValue* tokens = g.Find("tokenizer.ggml.tokens");
  if (!tokens || tokens->type != GgufValueType::kArray || static_cast<int64_t>(tokens->array.size()) != config.vocab_size) {
    return Status::Corruption(fmt::format("{}: tokenizer.ggml.tokens must hold vocab_size = {} strings", g.path(),
                                          config.vocab_size));
  }

  GgufVerifyResult result;
  std::set<std::string> seen;
  for (const auto& t : g.tensors()) {
    const auto hf = GgufToHfName(t.name);
    if (!hf) return Status::Corruption(fmt::format("{}: tensor {} is not a qwen2/qwen3 tensor name", g.path(), t.name));
    const engine::TensorView* view = ck->Find(*hf);
    if (!view) {
      return Status::Corruption(fmt::format("{}: tensor {} has no source {} in {}", g.path(), t.name, *hf, model_dir));
    }
    const std::vector<int64_t> want(view->shape.rbegin(), view->shape.rend());
    if (t.ne != want) {
      return Status::Corruption(fmt::format("{}: tensor {} has ne [{}] but {} in ggml order is [{}]", g.path(), t.name,
                                            fmt::join(t.ne, ", "), view->Describe(), fmt::join(want, ", ")));
    }
    std::vector<float> src(static_cast<size_t>(view->numel()));
    engine::ConvertToFloat(view->dtype, view->data, src.data(), src.size());
    const std::vector<float> got = g.Dequantize(t);
    std::vector<float> bound(src.size());
    QuantErrorBounds(t.type, src.data(), static_cast<int64_t>(src.size()), bound.data());
    QuantErrorStats s;
    s.worst_tensor = t.name;
    for (size_t i = 0; i < src.size(); ++i) {
      const double err = std::fabs(static_cast<double>(src[i]) - got[i]);
      if (!(err <= bound[i])) {
        return Status::Corruption(fmt::format("{}: tensor {} ({}) element {} decodes to {} but the source is {} "
                                              "(error {:.3g} > bound {:.3g})", g.path(), t.name,
                                              GgmlTypeName(t.type), i, got[i], src[i], err, bound[i]));
      }
      s.max_abs_error = std::max(s.max_abs_error, err);
      if (bound[i] > 0) s.max_error_over_bound = std::max(s.max_error_over_bound, err / bound[i]);
    }
    result.error.Add(s);
    seen.insert(*hf);
    ++result.tensors_checked;
  }
  for (const auto& [name, view] : ck->tensors()) {
    if (name == "lm_head.weight" && config.tie_word_embeddings) continue;
    if (!seen.count(name)) {
      return Status::Corruption(fmt::format("{}: checkpoint tensor {} of {} is missing from the GGUF", g.path(), name,
                                            model_dir));
    }
  }
  return result;
}

}  // namespace ritsu::merge
