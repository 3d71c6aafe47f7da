// HF Qwen2/Qwen3 model directory (config.json + safetensors + tokenizer files) -> one GGUF file
// that llama.cpp and Ollama load: general.* and <arch>.* hyper-parameters, tokenizer.ggml.*,
// tensors under llama.cpp's names in ggml dimension order, each encoded with the type the
// recipe (quant_recipe.h) picks for the requested file type.
//
// While encoding, every element is decoded again and compared with its source value against
// the bound of quantize.h; the export fails if any element exceeds it (a self-check of the
// encoder), and reports the largest error seen.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "common/status.h"
#include "engine/merge/ggml_types.h"
#include "engine/merge/gguf_writer.h"
#include "engine/model/config.h"

namespace ritsu::merge {

struct GgufExportOptions {
  std::string model_dir;      // config.json + safetensors (e.g. the merged output)
  std::string tokenizer_dir;  // tokenizer.json / tokenizer_config.json; empty: model_dir
  std::string output_path;
  GgufFileType file_type = GgufFileType::kMostlyF16;
  std::string model_name;     // general.name; empty: the model directory's name
  int threads = 0;            // 0: hardware concurrency
};

// Largest element error of a set of tensors, absolute and relative to the documented bound.
struct QuantErrorStats {
  double max_abs_error = 0;
  double max_error_over_bound = 0;  // <= 1 when every element is within its bound
  std::string worst_tensor;         // where max_error_over_bound was reached
  void Add(const QuantErrorStats& o);
};

struct GgufExportResult {
  std::string path;
  uint64_t file_bytes = 0;
  size_t tensor_count = 0;
  std::map<std::string, int> type_counts;  // ggml type name -> tensors
  QuantErrorStats error;
};

Result<GgufExportResult> ExportGguf(const GgufExportOptions& options);

// general.* and <arch>.* keys for this model ("qwen2" / "qwen3").
void AddModelMetadata(const engine::ModelConfig& config, GgufFileType file_type, const std::string& name,
                      GgufWriter* writer);

// Encodes `n` floats as type t into dst and measures the round-trip error against the bound.
// Splits the work over `threads` threads in whole rows of `row_len` elements.
QuantErrorStats EncodeAndMeasure(GgmlType t, const float* src, int64_t n, int64_t row_len, uint8_t* dst,
                                 int threads);

}  // namespace ritsu::merge
