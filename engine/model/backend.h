// The compute backend interface. The Qwen model (model.h) is written once against it; the CPU
// backend (cpu_backend.h: fp32, kernels::cpu, the oracle that runs in CI) and the CUDA backend
// (engine/cuda/: bf16 activations, kernels::cuda + cuBLAS) implement it.
//
// Shapes: activations are 2-D row-major [rows, cols] Tensors, rows = tokens of a step. A
// Tensor owns (shares) a device buffer; Reshape gives another view of the same bytes (e.g.
// [tokens, heads*head_dim] as [tokens*heads, head_dim] for Qwen3's per-head q_norm).
// Frozen weights are opaque Weight objects the backend built from checkpoint tensors: dense
// (fp32 on CPU, bf16 on CUDA) or NF4 (bitsandbytes layout, kernels/nf4/nf4.h).
//
// A step processes several sequences at once (continuous batching): StepLayout lists, for
// each sequence, its KV-cache slot, the position of its first new token and how many new
// tokens it brings (a whole prompt chunk in prefill, one token in decode). Tokens are packed
// in segment order. Backends choose the attention kernel per segment (flash-style prefill,
// cached decode).
//
// Training (the trainer's issue) extends this interface with the backward ops next to their
// forwards; the same Tensor/Buffer types hold gradients and fp32 LoRA masters.
//
// Thread-safety: a Backend and its objects are used from one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "engine/model/dtype.h"
#include "engine/model/safetensors.h"

namespace ritsu::engine {

enum class DeviceKind { kCpu, kCuda };

// Device memory owned by a backend; freed when the last Tensor referring to it goes.
class Buffer {
 public:
  virtual ~Buffer() = default;
  virtual void* data() = 0;
  virtual size_t bytes() const = 0;
};

struct Tensor {
  std::shared_ptr<Buffer> buffer;
  size_t offset_bytes = 0;  // a view may start inside the buffer
  DType dtype = DType::kF32;
  int64_t rows = 0;
  int64_t cols = 0;

  int64_t numel() const { return rows * cols; }
  size_t nbytes() const { return static_cast<size_t>(numel()) * DTypeSize(dtype); }
  void* data() const { return static_cast<uint8_t*>(buffer->data()) + offset_bytes; }
  template <class T>
  T* as() const { return static_cast<T*>(data()); }
  // Same bytes, another 2-D shape (rows*cols must match).
  Tensor Reshape(int64_t new_rows, int64_t new_cols) const;
  // Rows [begin, begin + count) as a view.
  Tensor RowSlice(int64_t begin, int64_t count) const;
};

enum class WeightFormat { kDense, kNf4 };

// A frozen parameter matrix [rows, cols] (a vector is [1, n]) in backend storage.
class Weight {
 public:
  virtual ~Weight() = default;
  int64_t rows = 0;
  int64_t cols = 0;
  WeightFormat format = WeightFormat::kDense;
};

struct Segment {
  int32_t slot = 0;       // KV-cache slot of the sequence
  int32_t start_pos = 0;  // position of its first new token (= tokens already cached)
  int32_t n_tokens = 0;   // new tokens in this step
};

struct StepLayout {
  std::vector<Segment> segments;
  // Derived per token, in packed order (filled by Finalize).
  std::vector<int32_t> positions;
  std::vector<int32_t> slots;
  int64_t n_tokens = 0;
  // Backend-private device copies of the arrays above (uploaded once per step).
  std::shared_ptr<void> device_state;

  void Finalize();
};

// K/V of every layer for n_slots sequences of up to max_seq tokens:
// k[layer], v[layer]: [n_slots * max_seq, n_kv_heads * head_dim].
struct KvCache {
  int64_t n_slots = 0;
  int64_t max_seq = 0;
  int64_t n_kv_heads = 0;
  int64_t head_dim = 0;
  std::vector<Tensor> k;
  std::vector<Tensor> v;
};

// Per-row sampling request (kernels/sampling/sampling.h semantics): temperature 0 = greedy.
struct SampleRequest {
  float temperature = 0.0f;
  int32_t top_k = 0;
  float top_p = 1.0f;
  uint64_t seed = 0;
  uint64_t counter = 0;  // the philox counter: makes a draw reproducible
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual DeviceKind kind() const = 0;
  virtual std::string name() const = 0;  // "cpu (fp32)", "cuda:0 NVIDIA H100 (bf16)"
  // dtype of activations and KV cache: kF32 on CPU, kBF16 on CUDA.
  virtual DType activation_dtype() const = 0;

  // ---- memory
  // Uninitialised [rows, cols] tensor (dtype kF32/kBF16/kI32).
  virtual Tensor Alloc(int64_t rows, int64_t cols, DType dtype) = 0;
  // Copies host data (F32/BF16/F16 converted to dst.dtype; I32 only into I32) into dst.
  virtual void Upload(const void* host, DType host_dtype, const Tensor& dst) = 0;
  // Copies a float tensor (F32 or BF16) to host floats (dst has src.numel() elements).
  virtual void Download(const Tensor& src, float* dst) = 0;
  virtual void Synchronize() = 0;
  // High-water mark of device memory this backend allocated, in bytes.
  virtual size_t peak_memory_bytes() const = 0;

  // ---- weights
  // Builds a weight from a checkpoint tensor (F32/F16/BF16). kNf4 quantizes on load;
  // 1-D tensors are [1, n]. Errors name the tensor.
  virtual Result<std::unique_ptr<Weight>> LoadWeight(const TensorView& src, WeightFormat format) = 0;
  // A dense weight from host fp32 values (LoRA A/B).
  virtual std::unique_ptr<Weight> LoadWeightF32(const float* host, int64_t rows, int64_t cols) = 0;

  // ---- forward ops (all rows are tokens)
  // out[t] = table[ids[t]]; ids: I32 [n, 1].
  virtual void Embedding(const Tensor& ids, const Weight& table, const Tensor& out) = 0;
  // y = RMSNorm(x) * weight over cols; y may be x.
  virtual void RmsNorm(const Tensor& x, const Weight& weight, float eps, const Tensor& y) = 0;
  // y = x W^T (+ bias); W is [y.cols, x.cols], dense or NF4.
  virtual void Linear(const Tensor& x, const Weight& w, const Weight* bias, const Tensor& y) = 0;
  // y += scale * (x A^T) B^T; A [r, x.cols], B [y.cols, r] (LoRA, unmerged).
  virtual void LoraAdd(const Tensor& x, const Weight& a, const Weight& b, float scale, const Tensor& y) = 0;
  // Rotates x [tokens, heads*head_dim] in place at the step's token positions (HF rotate_half).
  virtual void Rope(const Tensor& x, const StepLayout& step, int64_t n_heads, int64_t head_dim, float theta) = 0;
  // Stores the step's k/v rows [tokens, kv_dim] into the cache of `layer`, then computes causal
  // GQA attention of q [tokens, n_heads*head_dim] over each sequence's cached keys up to and
  // including the token itself; out [tokens, n_heads*head_dim].
  virtual void Attention(const Tensor& q, const Tensor& k, const Tensor& v, KvCache& cache, int64_t layer,
                         const StepLayout& step, int64_t n_heads, const Tensor& out) = 0;
  // out = silu(gate) * up.
  virtual void SwiGlu(const Tensor& gate, const Tensor& up, const Tensor& out) = 0;
  // out = a + b (out may alias either).
  virtual void Add(const Tensor& a, const Tensor& b, const Tensor& out) = 0;
  // out[i] = x[rows[i]].
  virtual void GatherRows(const Tensor& x, const std::vector<int64_t>& rows, const Tensor& out) = 0;
  // Picks one token per row of logits [n, vocab].
  virtual std::vector<int32_t> Sample(const Tensor& logits, const std::vector<SampleRequest>& requests) = 0;

  // A cache for n_slots sequences of max_seq tokens in activation_dtype().
  KvCache NewKvCache(int64_t n_layers, int64_t n_slots, int64_t max_seq, int64_t n_kv_heads, int64_t head_dim);
};

// The CPU backend (always available).
std::unique_ptr<Backend> MakeCpuBackend();

// Defined in engine/cuda/ (library ritsu_engine_cuda, built only with CUDA). device: CUDA
// ordinal after CUDA_VISIBLE_DEVICES. Fails with a clear message when no usable GPU is
// present. Callers pick a backend through MakeBackend (engine/app/backend_factory.h), which
// only calls this in CUDA builds, so CPU-only builds link without it.
Result<std::unique_ptr<Backend>> MakeCudaBackend(int device);

}  // namespace ritsu::engine
