// Merging a PEFT LoRA adapter into its base model: base HF directory (bf16/fp16/fp32
// safetensors) + adapter -> merged HF directory, optionally a GGUF file and an Ollama Modelfile.
//
// For every targeted linear layer W' = W + scale * B A (scale = lora_alpha / r, or
// lora_alpha / sqrt(r) with rslora), computed in fp32 from the original base weights and
// rounded once to the base tensor's own dtype; every other tensor is copied byte for byte.
// A quantized base (bitsandbytes U8 weights, *.absmax, ...) is refused: merging into
// dequantized 4-bit weights would bake the quantization error into the model.
//
// Output is built in a hidden sibling directory and renamed into place only when complete, so
// an interrupted merge never leaves a directory that looks finished; an existing output is
// replaced only with `overwrite`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/status.h"
#include "engine/merge/gguf_export.h"
#include "engine/merge/ggml_types.h"

namespace ritsu::merge {

struct MergeOptions {
  std::string base_dir;
  std::string lora_dir;
  std::string output_dir;
  std::string tokenizer_dir;  // where tokenizer files come from when the base has none
  bool overwrite = false;
  uint64_t max_shard_bytes = uint64_t{5} << 30;  // transformers' save_pretrained default (5 GB)
  int threads = 0;                               // 0: hardware concurrency
  std::optional<GgufFileType> gguf;              // also write <output>/model-<type>.gguf
  std::string ollama_name;                       // also write <output>/Modelfile for this name
};

struct MergeResult {
  std::string output_dir;
  size_t tensors_written = 0;
  size_t modules_merged = 0;
  double lora_scale = 0;
  std::optional<GgufExportResult> gguf;  // path inside output_dir after the rename
  std::string modelfile_path;            // empty when no --ollama-name
};

Result<MergeResult> MergeLora(const MergeOptions& options);

// out = W + scale * B A for one [out_features, in_features] weight (row-major, fp32).
void AddLoraDelta(float* w, const float* a, const float* b, int64_t out_features, int64_t in_features, int64_t r,
                  float scale);

}  // namespace ritsu::merge
