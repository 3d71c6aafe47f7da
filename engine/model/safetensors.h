// Safetensors checkpoints: a memory-mapped reader for one file or a sharded directory
// (model.safetensors.index.json), and a writer (single file or shards + index).
//
// File layout (https://github.com/huggingface/safetensors): u64 little-endian header length N,
// N bytes of JSON {"__metadata__": {str: str}, name: {"dtype", "shape", "data_offsets"}},
// then the byte buffer; offsets are relative to the buffer start. The reader validates every
// entry (known dtype, shape x dtype size == byte length computed without overflow, offsets
// inside the file, no overlap checks beyond range) so a truncated or corrupt file is an error naming file and tensor,
// never an out-of-range read.
//
// Thread-safety: a loaded Checkpoint is immutable; concurrent reads are fine.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "engine/model/dtype.h"

namespace ritsu::engine {

// A read-only view of one tensor inside a mapped file. Valid while its Checkpoint lives.
struct TensorView {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;
  size_t nbytes = 0;
  std::string file;  // path of the file that holds it (for error messages)

  int64_t numel() const;
  // "model.layers.0.self_attn.q_proj.weight BF16 [2048, 1024]"
  std::string Describe() const;
};

class MappedFile;

class Checkpoint {
 public:
  // Opens one .safetensors file.
  static Result<std::unique_ptr<Checkpoint>> OpenFile(const std::string& path);
  // Parses a copy of `bytes` as one .safetensors file; `name` stands for the path in messages
  // (for fuzzing and tests: the same validation as OpenFile, no file system).
  static Result<std::unique_ptr<Checkpoint>> OpenBuffer(const std::string& name, std::string_view bytes);
  // Opens a model directory: model.safetensors.index.json (sharded) if present, otherwise
  // model.safetensors; every shard named in the index must exist and hold its tensors.
  static Result<std::unique_ptr<Checkpoint>> OpenDir(const std::string& dir);
  ~Checkpoint();

  const TensorView* Find(const std::string& name) const;
  // Like Find, but an error naming the tensor and the checkpoint when absent, or when the
  // shape differs from `expected_shape` (skipped when empty).
  Result<const TensorView*> Get(const std::string& name,
                                const std::vector<int64_t>& expected_shape = {}) const;
  // Copies a F32/F16/BF16 tensor into floats.
  Result<std::vector<float>> ReadFloat(const std::string& name,
                                       const std::vector<int64_t>& expected_shape = {}) const;
  const std::map<std::string, TensorView>& tensors() const { return tensors_; }
  // __metadata__ of the (first) file.
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::string& source() const { return source_; }

 private:
  Checkpoint() = default;
  Status AddFile(const std::string& path);
  Status AddMapped(std::unique_ptr<MappedFile> file);

  std::string source_;
  std::vector<std::unique_ptr<MappedFile>> files_;
  std::map<std::string, TensorView> tensors_;
  std::map<std::string, std::string> metadata_;
};

// One tensor to write. `bytes` holds shape-product x DTypeSize(dtype) bytes.
struct TensorData {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;

  // Converts floats into dtype storage.
  static TensorData FromFloat(std::string name, DType dtype, std::vector<int64_t> shape,
                              const std::vector<float>& values);
};

// A tensor produced on demand while writing (make-model streams multi-GB checkpoints this
// way without holding them in memory): `fill` writes numel x DTypeSize(dtype) bytes.
struct TensorSource {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  std::function<void(uint8_t* dst)> fill;
  uint64_t nbytes() const;
};

// Streaming variants of the two writers below.
Status WriteSafetensors(const std::string& path, const std::vector<TensorSource>& tensors,
                        const std::map<std::string, std::string>& metadata);
Status WriteCheckpointDir(const std::string& dir, const std::vector<TensorSource>& tensors,
                          uint64_t max_shard_bytes, const std::map<std::string, std::string>& metadata);

// Writes one .safetensors file (tensors in the given order, 8-byte aligned header).
Status WriteSafetensors(const std::string& path, const std::vector<TensorData>& tensors,
                        const std::map<std::string, std::string>& metadata = {});

// Writes `dir`/model.safetensors when the tensors fit in max_shard_bytes, otherwise
// model-0000i-of-0000n.safetensors shards plus model.safetensors.index.json (HF layout:
// {"metadata": {"total_size": ...}, "weight_map": {name: shard}}).
Status WriteCheckpointDir(const std::string& dir, const std::vector<TensorData>& tensors,
                          uint64_t max_shard_bytes,
                          const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

}  // namespace ritsu::engine
