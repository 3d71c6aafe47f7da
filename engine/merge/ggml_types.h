// ggml tensor types that ritsu writes into GGUF files, with their block geometry.
// The numeric ids are ggml's (ggml.h `enum ggml_type`) because they are stored in the file;
// the block sizes follow ggml-common.h. Only the types ritsu can encode and decode are listed:
// a GGUF holding any other type is reported as unsupported by the reader, not misread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ritsu::merge {

enum class GgmlType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ5_0 = 6,   // only as llama.cpp's fallback for Q4_K rows whose length is not a multiple of 256
  kQ8_0 = 8,
  kQ4_K = 12,
  kQ6_K = 14,
  kBF16 = 30,
};

struct GgmlTypeTraits {
  GgmlType type;
  const char* name;     // ggml's spelling: "f32", "q4_K", ...
  int64_t block_elems;  // elements per block (1 for plain float types)
  size_t block_bytes;   // bytes per block
};

// Traits of a type id read from a file; nullopt for ids ritsu does not handle.
std::optional<GgmlTypeTraits> FindGgmlType(uint32_t id);
const GgmlTypeTraits& TraitsOf(GgmlType t);
const char* GgmlTypeName(GgmlType t);

// Bytes of `n` elements of type t; n must be a multiple of the block size.
size_t RowBytes(GgmlType t, int64_t n);

// llama.cpp's `general.file_type` values (llama.h `enum llama_ftype`) for the outputs ritsu writes.
enum class GgufFileType : uint32_t {
  kAllF32 = 0,
  kMostlyF16 = 1,
  kMostlyQ8_0 = 7,
  kMostlyQ4_K_M = 15,
  kMostlyBF16 = 32,
};

// Parses the --gguf flag: "f16", "bf16", "q8_0", "q4_k_m" (case-insensitive).
std::optional<GgufFileType> ParseGgufFileType(std::string_view s);
// "f16", "bf16", "q8_0", "q4_k_m": used in the output file name model-<type>.gguf.
const char* GgufFileTypeName(GgufFileType t);

}  // namespace ritsu::merge
