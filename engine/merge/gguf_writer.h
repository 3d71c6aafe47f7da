// Streaming GGUF v3 writer.
//
// File layout (gguf.h in ggml): magic "GGUF", u32 version 3, u64 tensor count, u64 metadata
// count, the metadata (key string, u32 value type, value), the tensor table (name, u32 n_dims,
// u64 ne[n_dims], u32 ggml type, u64 offset relative to the data section), zero padding to the
// alignment, then the data section where every tensor starts at a multiple of the alignment.
// Strings are u64 length + bytes, little-endian throughout. ne[0] is the contiguous dimension,
// so a row-major [rows, cols] weight is declared with ne = {cols, rows}.
//
// Usage: Set(...) metadata and AddTensor(...) every tensor, Begin(path), WriteTensor(i, ...) in
// declaration order, Finish(). Tensor data is streamed, so a 16 GB model never sits in memory.
// Not thread-safe.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "engine/merge/ggml_types.h"
#include "engine/merge/gguf_value.h"

namespace ritsu::merge {

inline constexpr uint32_t kGgufVersion = 3;
inline constexpr uint32_t kGgufDefaultAlignment = 32;

struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> ne;  // ggml order: ne[0] contiguous
  GgmlType type = GgmlType::kF32;
  uint64_t offset = 0;      // from the start of the data section
  uint64_t bytes = 0;

  int64_t Elements() const;
};

class GgufWriter {
 public:
  explicit GgufWriter(uint32_t alignment = kGgufDefaultAlignment);
  ~GgufWriter();
  GgufWriter(const GgufWriter&) = delete;
  GgufWriter& operator=(const GgufWriter&) = delete;

  // Adds or replaces a metadata key; keys keep their first insertion order.
  void Set(const std::string& key, GgufValue value);
  // Declares a tensor. Fails when ne[0] is not a multiple of the type's block size.
  Status AddTensor(const std::string& name, std::vector<int64_t> ne, GgmlType type);
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  // Total file size once finished.
  uint64_t FileSize() const;

  Status Begin(const std::string& path);
  // Writes tensor `index` (must be the next one in declaration order); bytes must equal its size.
  Status WriteTensor(size_t index, const uint8_t* data, size_t bytes);
  // Streams the next bytes of tensor data in declaration order; a tensor may arrive in any
  // number of parts, but a part never spans two tensors.
  Status AppendTensorData(const uint8_t* data, size_t bytes);
  Status Finish();

 private:
  Status WriteRaw(const void* p, size_t n);
  Status WritePadding(uint64_t pos);
  Status WriteString(const std::string& s);
  Status WriteValue(const GgufValue& v, bool with_type);
  uint64_t HeaderSize() const;

  uint32_t alignment_;
  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::vector<GgufTensorInfo> tensors_;
  uint64_t data_bytes_ = 0;
  std::string path_;
  std::FILE* f_ = nullptr;
  std::vector<char> buffer_;  // stdio buffer: large writes, few syscalls
  uint64_t pos_ = 0;
  uint64_t header_size_ = 0;  // fixed at Begin: metadata and table no longer change
  size_t next_tensor_ = 0;
  uint64_t written_in_tensor_ = 0;  // bytes of tensors_[next_tensor_] already written
};

}  // namespace ritsu::merge
