// GGUF reader: parses and validates a GGUF v2/v3 file (header, metadata, tensor table, data
// offsets) and gives access to each tensor's bytes through a read-only memory map.
// Every structural problem is reported as a Corruption status naming the file and the field
// ("x.gguf: tensor 3 (blk.0.attn_q.weight): offset 100 is not a multiple of the alignment 32").
// Element and byte counts are overflow-checked; a repeated metadata key or tensor name is refused.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "engine/merge/gguf_value.h"
#include "engine/merge/gguf_writer.h"

namespace ritsu::merge {

class GgufFile {
 public:
  static Result<GgufFile> Open(const std::string& path);
  // Parses a copy of `bytes`; `name` stands for the path in messages (fuzzing, tests).
  static Result<GgufFile> FromBuffer(const std::string& name, std::string_view bytes);

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }
  uint64_t file_size() const { return size_; }
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return kv_; }
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }

  // nullptr when the key is absent.
  const GgufValue* Find(const std::string& key) const;
  const GgufTensorInfo* FindTensor(const std::string& name) const;
  const uint8_t* TensorData(const GgufTensorInfo& t) const;
  // The tensor decoded to floats (row-major, ne[0] fastest).
  std::vector<float> Dequantize(const GgufTensorInfo& t) const;

 private:
  struct Mapping;
  static Result<GgufFile> Parse(const std::string& path, std::shared_ptr<Mapping> map);
  std::string path_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 0;
  uint64_t data_offset_ = 0;
  uint64_t size_ = 0;
  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::vector<GgufTensorInfo> tensors_;
  std::shared_ptr<Mapping> map_;
};

}  // namespace ritsu::merge
