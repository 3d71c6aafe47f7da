#include "cli/gpu_estimate.h"

#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/units.h"

namespace ritsu::cli {

int64_t ModelShape::LinearParams() const {
  const int64_t q = hidden * heads * head_dim, kv = 2 * hidden * kv_heads * head_dim, o = heads * head_dim * hidden;
  const int64_t mlp = 3 * hidden * intermediate;  // gate, up, down
  return layers * (q + kv + o + mlp);
}

int64_t ModelShape::EmbeddingParams() const { return vocab * hidden * (tied_embeddings ? 1 : 2); }

Result<ModelShape> ReadModelShape(const std::string& model_dir) {
  const auto path = std::filesystem::path(model_dir) / "config.json";
  std::ifstream in(path);
  if (!in) return Status::NotFound(fmt::format("{}: cannot read the model config", path.string()));
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    return Status::InvalidArgument(fmt::format("{}: not valid JSON ({})", path.string(), e.what()));
  }
  ModelShape m;
  auto get = [&](const char* key, int64_t* dst, bool required) -> Status {
    if (!j.contains(key) || !j[key].is_number_integer()) {
      if (required) return Status::InvalidArgument(fmt::format("{}: missing integer field '{}'", path.string(), key));
      return Status::Ok();
    }
    *dst = j[key].get<int64_t>();
    if (*dst <= 0) return Status::InvalidArgument(fmt::format("{}: '{}' must be positive", path.string(), key));
    return Status::Ok();
  };
  RITSU_RETURN_IF_ERROR(get("hidden_size", &m.hidden, true));
  RITSU_RETURN_IF_ERROR(get("num_hidden_layers", &m.layers, true));
  RITSU_RETURN_IF_ERROR(get("intermediate_size", &m.intermediate, true));
  RITSU_RETURN_IF_ERROR(get("vocab_size", &m.vocab, true));
  RITSU_RETURN_IF_ERROR(get("num_attention_heads", &m.heads, true));
  m.kv_heads = m.heads;
  RITSU_RETURN_IF_ERROR(get("num_key_value_heads", &m.kv_heads, false));
  m.head_dim = m.hidden / m.heads;
  RITSU_RETURN_IF_ERROR(get("head_dim", &m.head_dim, false));
  m.tied_embeddings = j.value("tie_word_embeddings", false);
  return m;
}

Estimate EstimateGpuMemory(const ModelShape& m, const EstimateOptions& o) {
  // Bytes per parameter: bf16 = 2; NF4 = 4 bits + one fp32 absmax per 64 weights = 0.5625
  // (bitsandbytes' double quantisation makes it ~0.53; 0.5625 stays on the safe side).
  const double linear_bpp = o.nf4 ? 0.5625 : 2.0;
  const double weights = double(m.LinearParams()) * linear_bpp + double(m.EmbeddingParams()) * 2.0;
  const double tokens = double(o.batch) * double(o.seq);
  double lora = 0, work = 0, logits = 0;
  std::string work_name;
  if (o.kind == TaskKind::kTrain) {
    // LoRA A (r x in) and B (out x r) per target projection; ~hidden wide on average. fp32
    // weight + grad + two Adam moments = 16 bytes per LoRA parameter.
    lora = double(m.layers) * double(o.lora_targets) * double(o.lora_r) * double(2 * m.hidden) * 16.0;
    // Activations kept for backward, bf16, per token per layer: ~16 hidden-wide tensors
    // (norms, q/k/v/o, residuals, attention output) + 3 intermediate-wide (gate, up, act).
    work = tokens * double(m.layers) * double(16 * m.hidden + 3 * m.intermediate) * 2.0;
    work_name = "activations";
    logits = tokens * double(m.vocab) * 8.0;  // fp32 logits + their gradient
  } else {
    // KV cache, bf16: K and V per layer per token.
    work = tokens * double(m.layers) * double(2 * m.kv_heads * m.head_dim) * 2.0;
    work_name = "kv-cache";
    logits = double(o.batch) * double(m.vocab) * 4.0;  // last position only, fp32
  }
  const double overhead = 512.0 * 1024 * 1024;  // CUDA context, cuBLAS workspace, allocator slack
  const double total = (weights + lora + work + logits + overhead) * 1.1;
  Estimate e;
  e.bytes = uint64_t(total);
  e.breakdown = fmt::format("weights {} ({}) + {}{} {} + logits {} + overhead 512M, x1.1 = {}",
                            FormatSize(uint64_t(weights)), o.nf4 ? "nf4" : "bf16",
                            lora > 0 ? fmt::format("lora+adam {} + ", FormatSize(uint64_t(lora))) : "", work_name,
                            FormatSize(uint64_t(work)), FormatSize(uint64_t(logits)), FormatSize(e.bytes));
  return e;
}

}  // namespace ritsu::cli
