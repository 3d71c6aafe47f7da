#include "common/gpu_estimate.h"

#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/units.h"

namespace ritsu {

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

namespace {

// ritsu-engine train's own memory model (docs/training.md, "Memory model"), fitted to peaks
// measured on an H100 (docs/PERFORMANCE.md: Qwen3-0.6B/8B/32B shapes, NF4, r 16 all-linear,
// seq 1024): frozen linears (NF4 0.516 byte/parameter with its absmax tables, or bf16) + one
// dequantization scratch, the lm_head in bf16 on the device (the embedding table stays in host
// memory), LoRA with its gradient and AdamW moments (16 bytes per parameter), fp32 block inputs
// kept for the backward (gradient checkpointing per block), one block's recompute and backward
// (~20 hidden-wide + 8.2 intermediate-wide fp32 tensors per token) and 256 rows of logits.
double TrainBytes(const ModelShape& m, const EstimateOptions& o, std::string* breakdown) {
  const double tokens = double(o.batch) * double(o.seq), h = double(m.hidden), inter = double(m.intermediate);
  const double q = double(m.heads * m.head_dim), kv = double(m.kv_heads * m.head_dim);
  const double linears = double(m.LinearParams()) * (o.nf4 ? 0.516 : 2.0) + (o.nf4 ? inter * h * 2.0 : 0.0);
  const double lm_head = double(m.vocab) * h * 2.0;
  // in + out of one projection, averaged over the seven (q, k, v, o, gate, up, down).
  const double in_out = ((h + q) + 2 * (h + kv) + (q + h) + 3 * (h + inter)) / 7.0;
  const double lora = double(m.layers) * double(o.lora_targets) * double(o.lora_r) * in_out * 16.0;
  const double checkpoints = double(m.layers + 1) * tokens * h * 4.0;
  const double block = tokens * (20.0 * h + 8.2 * inter) * 4.0;
  const double logits = 256.0 * double(m.vocab) * 6.0;
  *breakdown = fmt::format("weights {} ({}) + lm_head {} + lora+adam {} + activations {} + logits {}",
                           FormatSize(uint64_t(linears)), o.nf4 ? "nf4" : "bf16", FormatSize(uint64_t(lm_head)),
                           FormatSize(uint64_t(lora)), FormatSize(uint64_t(checkpoints + block)),
                           FormatSize(uint64_t(logits)));
  return linears + lm_head + lora + checkpoints + block + logits;
}

}  // namespace

Estimate EstimateGpuMemory(const ModelShape& m, const EstimateOptions& o) {
  Estimate e;
  if (o.kind == TaskKind::kTrain) {
    // + 5 % and the CUDA context, cuBLAS workspace and attention scratch (~0.75 GB): the
    // result covers nvidia-smi's peak of the measured runs by 2-5 % (cli/tests/job_test.cc).
    std::string parts;
    const double total = TrainBytes(m, o, &parts) * 1.05 + 0.75e9;
    e.bytes = uint64_t(total);
    e.breakdown = fmt::format("{} + context 750M, x1.05 = {}", parts, FormatSize(e.bytes));
    return e;
  }
  // Bytes per parameter: bf16 = 2; NF4 = 4 bits + one fp32 absmax per 64 weights = 0.5625
  // (bitsandbytes' double quantisation makes it ~0.53; 0.5625 stays on the safe side).
  const double linear_bpp = o.nf4 ? 0.5625 : 2.0;
  const double weights = double(m.LinearParams()) * linear_bpp + double(m.EmbeddingParams()) * 2.0;
  // Inference (eval): the KV cache in bf16, K and V per layer per token; logits of the last
  // position only, fp32.
  const double tokens = double(o.batch) * double(o.seq);
  const double kv_cache = tokens * double(m.layers) * double(2 * m.kv_heads * m.head_dim) * 2.0;
  const double logits = double(o.batch) * double(m.vocab) * 4.0;
  const double overhead = 512.0 * 1024 * 1024;  // CUDA context, cuBLAS workspace, allocator slack
  const double total = (weights + kv_cache + logits + overhead) * 1.1;
  e.bytes = uint64_t(total);
  e.breakdown = fmt::format("weights {} ({}) + kv-cache {} + logits {} + overhead 512M, x1.1 = {}",
                            FormatSize(uint64_t(weights)), o.nf4 ? "nf4" : "bf16", FormatSize(uint64_t(kv_cache)),
                            FormatSize(uint64_t(logits)), FormatSize(e.bytes));
  return e;
}

}  // namespace ritsu
