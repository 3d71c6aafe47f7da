#include "engine/merge/gguf_export.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <thread>
#include <tuple>
#include <vector>

#include "engine/merge/gguf_names.h"
#include "engine/merge/quant_recipe.h"
#include "engine/merge/quantize.h"
#include "engine/merge/tokenizer_metadata.h"
#include "engine/model/safetensors.h"

namespace ritsu::merge {
namespace {

namespace fs = std::filesystem;

// GGML_QNT_VERSION: the k-quant block layout generation ritsu writes.
constexpr uint32_t kQuantizationVersion = 2;
// Elements encoded per work item: large enough to amortise thread start, small enough to keep
// the float copy of one batch (threads x this) to a few hundred MB at most.
constexpr int64_t kChunkElems = int64_t{1} << 20;

struct PlannedTensor {
  std::string gguf_name;
  const engine::TensorView* view;
  std::vector<int64_t> ne;
  GgmlType type;
};

// token_embd first, then the blocks in layer order, then output_norm and output.
std::tuple<int, int, std::string> OrderKey(const std::string& gguf_name) {
  const int layer = GgufLayerIndex(gguf_name);
  if (gguf_name == "token_embd.weight") return {0, 0, gguf_name};
  if (layer >= 0) return {1, layer, gguf_name};
  return {2, gguf_name == "output.weight" ? 1 : 0, gguf_name};
}

}  // namespace

void QuantErrorStats::Add(const QuantErrorStats& o) {
  max_abs_error = std::max(max_abs_error, o.max_abs_error);
  if (o.max_error_over_bound >= max_error_over_bound) {
    max_error_over_bound = o.max_error_over_bound;
    if (!o.worst_tensor.empty()) worst_tensor = o.worst_tensor;
  }
}

QuantErrorStats EncodeAndMeasure(GgmlType t, const float* src, int64_t n, int64_t row_len, uint8_t* dst,
                                 int threads) {
  const int64_t rows = n / row_len;
  const int64_t rows_per_chunk = std::max<int64_t>(1, kChunkElems / row_len);
  const int64_t chunks = (rows + rows_per_chunk - 1) / rows_per_chunk;
  const size_t row_bytes = RowBytes(t, row_len);
  std::vector<QuantErrorStats> stats(static_cast<size_t>(chunks));
  auto work = [&](int64_t c) {
    const int64_t r0 = c * rows_per_chunk, r1 = std::min(rows, r0 + rows_per_chunk);
    const int64_t m = (r1 - r0) * row_len;
    const float* x = src + r0 * row_len;
    uint8_t* out = dst + static_cast<size_t>(r0) * row_bytes;
    QuantizeRow(t, x, m, out);
    std::vector<float> y(static_cast<size_t>(m)), bound(static_cast<size_t>(m));
    DequantizeRow(t, out, m, y.data());
    QuantErrorBounds(t, x, m, bound.data());
    QuantErrorStats& s = stats[static_cast<size_t>(c)];
    for (int64_t i = 0; i < m; ++i) {
      const double err = std::fabs(static_cast<double>(x[i]) - y[i]);
      s.max_abs_error = std::max(s.max_abs_error, err);
      const double ratio = bound[i] > 0 ? err / bound[i] : (err > 0 ? 1e30 : 0.0);
      s.max_error_over_bound = std::max(s.max_error_over_bound, ratio);
    }
  };
  const int nthreads = std::max(1, std::min<int>(threads, static_cast<int>(chunks)));
  std::vector<std::thread> pool;
  for (int k = 0; k < nthreads; ++k) {
    pool.emplace_back([&, k] {
      for (int64_t c = k; c < chunks; c += nthreads) work(c);
    });
  }
  for (auto& th : pool) th.join();
  QuantErrorStats total;
  for (const auto& s : stats) total.Add(s);
  return total;
}

void AddModelMetadata(const engine::ModelConfig& c, GgufFileType file_type, const std::string& name,
                      GgufWriter* w) {
  const std::string arch = c.arch == engine::Arch::kQwen2 ? "qwen2" : "qwen3";
  w->Set("general.architecture", GgufValue::Str(arch));
  w->Set("general.type", GgufValue::Str("model"));
  w->Set("general.name", GgufValue::Str(name));
  w->Set("general.file_type", GgufValue::U32(static_cast<uint32_t>(file_type)));
  w->Set("general.quantization_version", GgufValue::U32(kQuantizationVersion));
  auto u32 = [](int64_t v) { return GgufValue::U32(static_cast<uint32_t>(v)); };
  w->Set(arch + ".block_count", u32(c.num_hidden_layers));
  w->Set(arch + ".context_length", u32(c.max_position_embeddings));
  w->Set(arch + ".embedding_length", u32(c.hidden_size));
  w->Set(arch + ".feed_forward_length", u32(c.intermediate_size));
  w->Set(arch + ".attention.head_count", u32(c.num_attention_heads));
  w->Set(arch + ".attention.head_count_kv", u32(c.num_key_value_heads));
  w->Set(arch + ".rope.freq_base", GgufValue::F32(static_cast<float>(c.rope_theta)));
  w->Set(arch + ".attention.layer_norm_rms_epsilon", GgufValue::F32(static_cast<float>(c.rms_norm_eps)));
  if (c.arch == engine::Arch::kQwen3) {
    // Qwen3's head_dim (128) is not hidden/heads for every size, so llama.cpp needs it stated.
    w->Set(arch + ".attention.key_length", u32(c.head_dim));
    w->Set(arch + ".attention.value_length", u32(c.head_dim));
  }
}

Result<GgufExportResult> ExportGguf(const GgufExportOptions& opt) {
  RITSU_ASSIGN_OR_RETURN(engine::ModelConfig config, engine::LoadModelConfig(opt.model_dir));
  RITSU_ASSIGN_OR_RETURN(auto ck, engine::Checkpoint::OpenDir(opt.model_dir));
  const std::string tok_dir = opt.tokenizer_dir.empty() ? opt.model_dir : opt.tokenizer_dir;
  RITSU_ASSIGN_OR_RETURN(TokenizerMetadata tok, LoadTokenizerMetadata(tok_dir, config));

  std::vector<PlannedTensor> plan;
  bool has_output = false;
  for (const auto& [hf_name, view] : ck->tensors()) {
    if (hf_name == "lm_head.weight" && config.tie_word_embeddings) continue;  // llama.cpp reuses token_embd
    auto gguf_name = HfToGgufName(hf_name);
    if (!gguf_name) {
      return Status::InvalidArgument(fmt::format(
          "{}: tensor {} has no llama.cpp {} counterpart (quantized or non-Qwen checkpoint? export from the "
          "merged bf16/fp16 model)", opt.model_dir, hf_name, config.arch == engine::Arch::kQwen2 ? "qwen2" : "qwen3"));
    }
    if (view.dtype != engine::DType::kF32 && view.dtype != engine::DType::kF16 && view.dtype != engine::DType::kBF16) {
      return Status::InvalidArgument(fmt::format("{}: tensor {} is {}, GGUF export reads F32/F16/BF16 weights",
                                                 opt.model_dir, hf_name, engine::DTypeName(view.dtype)));
    }
    has_output |= *gguf_name == "output.weight";
    std::vector<int64_t> ne(view.shape.rbegin(), view.shape.rend());
    plan.push_back({*gguf_name, &view, std::move(ne), GgmlType::kF32});
  }
  if (!config.tie_word_embeddings && !has_output) {
    return Status::InvalidArgument(opt.model_dir + ": lm_head.weight is missing and config.json tie_word_embeddings is false");
  }
  std::sort(plan.begin(), plan.end(),
            [](const PlannedTensor& a, const PlannedTensor& b) { return OrderKey(a.gguf_name) < OrderKey(b.gguf_name); });

  const RecipeContext ctx{opt.file_type, static_cast<int>(config.num_hidden_layers), has_output};
  GgufWriter writer;
  std::string name = opt.model_name;
  if (name.empty()) name = fs::path(opt.model_dir).lexically_normal().filename().string();
  if (name.empty()) name = fs::path(opt.model_dir).lexically_normal().parent_path().filename().string();
  AddModelMetadata(config, opt.file_type, name, &writer);
  AddTokenizerMetadata(tok, &writer);
  GgufExportResult result;
  for (auto& p : plan) {
    p.type = ChooseTensorType(ctx, p.gguf_name, p.ne);
    RITSU_RETURN_IF_ERROR(writer.AddTensor(p.gguf_name, p.ne, p.type));
    ++result.type_counts[GgmlTypeName(p.type)];
  }
  RITSU_RETURN_IF_ERROR(writer.Begin(opt.output_path));
  const int threads = opt.threads > 0 ? opt.threads : std::max(1u, std::thread::hardware_concurrency());
  std::vector<float> src;
  std::vector<uint8_t> dst;
  for (const auto& p : plan) {
    const int64_t n = p.view->numel(), row_len = p.ne[0];
    // One slab of whole rows at a time keeps memory bounded for the 600M-element embeddings.
    const int64_t slab_rows = std::max<int64_t>(1, (kChunkElems * threads * 4) / row_len);
    const size_t elem_size = engine::DTypeSize(p.view->dtype);
    QuantErrorStats tensor_stats;
    for (int64_t r0 = 0; r0 < n / row_len; r0 += slab_rows) {
      const int64_t rows = std::min(slab_rows, n / row_len - r0);
      const int64_t m = rows * row_len;
      src.resize(static_cast<size_t>(m));
      engine::ConvertToFloat(p.view->dtype, p.view->data + static_cast<size_t>(r0 * row_len) * elem_size, src.data(),
                             static_cast<size_t>(m));
      dst.resize(RowBytes(p.type, m));
      tensor_stats.Add(EncodeAndMeasure(p.type, src.data(), m, row_len, dst.data(), threads));
      RITSU_RETURN_IF_ERROR(writer.AppendTensorData(dst.data(), dst.size()));
    }
    tensor_stats.worst_tensor = p.gguf_name;
    if (tensor_stats.max_error_over_bound > 1.0) {
      return Status::Internal(fmt::format("{}: tensor {} ({}) exceeds its quantization error bound by a factor "
                                          "{:.3f}: encoder bug, file not usable", opt.output_path, p.gguf_name,
                                          GgmlTypeName(p.type), tensor_stats.max_error_over_bound));
    }
    result.error.Add(tensor_stats);
  }
  RITSU_RETURN_IF_ERROR(writer.Finish());
  result.path = opt.output_path;
  result.file_bytes = writer.FileSize();
  result.tensor_count = plan.size();
  return result;
}

}  // namespace ritsu::merge
