// The CUDA backend (see cuda_backend.h). Host code: compiled by g++, calls kernels::cuda.
#include "engine/cuda/cuda_backend.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "engine/cuda/device_arena.h"
#include "kernels/activation/activation.h"
#include "kernels/attention/attention.h"
#include "kernels/common/cuda_check.h"
#include "kernels/common/types.h"
#include "kernels/elementwise/elementwise.h"
#include "kernels/embedding/embedding.h"
#include "kernels/matmul/matmul.h"
#include "kernels/nf4/nf4.h"
#include "kernels/norm/norm.h"
#include "kernels/rope/rope.h"
#include "kernels/sampling/sampling.h"

namespace ritsu::engine {
namespace {

namespace kg = ::ritsu::kernels::cuda;
using ::ritsu::bf16;
using cuda::DeviceArena;
using cuda::FormatBytes;

// Alloc has no error channel in the Backend interface: running out of the capped memory in
// the middle of a step is reported and the process exits non-zero (no partial results).
[[noreturn]] void FatalMemory(const Status& st) {
  std::fprintf(stderr, "ritsu-engine: %s\n", st.message().c_str());
  std::fflush(stderr);
  std::exit(3);
}

class CudaBuffer final : public Buffer {
 public:
  CudaBuffer(std::shared_ptr<DeviceArena> arena, void* p, size_t bytes)
      : arena_(std::move(arena)), p_(p), bytes_(bytes) {}
  ~CudaBuffer() override { arena_->Free(p_); }
  void* data() override { return p_; }
  size_t bytes() const override { return bytes_; }

 private:
  std::shared_ptr<DeviceArena> arena_;
  void* p_;
  size_t bytes_;
};

class CudaDenseWeight final : public Weight {
 public:
  std::shared_ptr<Buffer> buffer;
  const bf16* data() const { return static_cast<const bf16*>(buffer->data()); }
};

class CudaNf4Weight final : public Weight {
 public:
  std::shared_ptr<Buffer> packed, absmax_q, absmax_scale;
  ::ritsu::kernels::Nf4Tensor t;  // device pointers into the buffers above
};

// Per-step device arrays (StepLayout::device_state): per token positions and slots, and per
// segment the cu_seqlens pairs of prefill and the (length, slot) of decode rows.
struct StepDevice {
  std::shared_ptr<Buffer> buffer;
  int32_t* positions = nullptr;  // [n_tokens]
  int32_t* slots = nullptr;      // [n_tokens]
  int32_t* seg_cu = nullptr;     // [4 * n_segments]: {0, n, 0, start + n}
  int32_t* dec_lens = nullptr;   // [n_segments]: start + n (keys visible to the last token)
  int32_t* dec_slots = nullptr;  // [n_segments]
};

const CudaDenseWeight& Dense(const Weight& w) { return static_cast<const CudaDenseWeight&>(w); }

class CudaBackend final : public Backend {
 public:
  CudaBackend(int device, size_t cap, cudaStream_t stream, std::string device_name)
      : device_(device), stream_(stream), arena_(std::make_shared<DeviceArena>(cap)),
        device_name_(std::move(device_name)) {}

  ~CudaBackend() override {
    cudaSetDevice(device_);
    cudaStreamSynchronize(stream_);
    code_.reset();
    cudaStreamDestroy(stream_);
  }

  Status Init() {
    const float* code = ::ritsu::kernels::nf4_absmax_code();
    auto buf = AllocBytes(256 * sizeof(float));
    if (!buf.ok()) return buf.status();
    code_ = std::move(buf.value());
    RITSU_CUDA_CHECK(cudaMemcpyAsync(code_->data(), code, 256 * sizeof(float),
                                     cudaMemcpyHostToDevice, stream_));
    RITSU_CUDA_CHECK(cudaStreamSynchronize(stream_));
    return Status::Ok();
  }

  DeviceKind kind() const override { return DeviceKind::kCuda; }
  std::string name() const override { return "cuda:" + std::to_string(device_) + " " + device_name_ + " (bf16)"; }
  DType activation_dtype() const override { return DType::kBF16; }

  // ---------------------------------------------------------------- memory

  Tensor Alloc(int64_t rows, int64_t cols, DType dtype) override {
    Guard();
    Tensor t;
    t.dtype = dtype;
    t.rows = rows;
    t.cols = cols;
    auto buf = AllocBytes(t.nbytes());
    if (!buf.ok()) FatalMemory(buf.status());
    t.buffer = std::move(buf.value());
    return t;
  }

  void Upload(const void* host, DType host_dtype, const Tensor& dst) override {
    Guard();
    const size_t n = static_cast<size_t>(dst.numel());
    if (dst.dtype == DType::kI32 || host_dtype == DType::kI32 || host_dtype == dst.dtype) {
      CopyToDevice(dst.data(), host, dst.nbytes());
      return;
    }
    std::vector<float> f(n);
    ConvertToFloat(host_dtype, host, f.data(), n);
    if (dst.dtype == DType::kF32) {
      CopyToDevice(dst.data(), f.data(), n * sizeof(float));
      return;
    }
    std::vector<uint16_t> b(n);
    ConvertFromFloat(dst.dtype, f.data(), b.data(), n);
    CopyToDevice(dst.data(), b.data(), n * sizeof(uint16_t));
  }

  void Download(const Tensor& src, float* dst) override {
    Guard();
    const size_t n = static_cast<size_t>(src.numel());
    if (src.dtype == DType::kF32) {
      RITSU_CUDA_CHECK(cudaMemcpyAsync(dst, src.data(), n * sizeof(float), cudaMemcpyDeviceToHost, stream_));
      RITSU_CUDA_CHECK(cudaStreamSynchronize(stream_));
      return;
    }
    std::vector<uint16_t> raw(n);
    RITSU_CUDA_CHECK(cudaMemcpyAsync(raw.data(), src.data(), n * sizeof(uint16_t), cudaMemcpyDeviceToHost, stream_));
    RITSU_CUDA_CHECK(cudaStreamSynchronize(stream_));
    ConvertToFloat(src.dtype, raw.data(), dst, n);
  }

  void Synchronize() override {
    Guard();
    RITSU_CUDA_CHECK(cudaStreamSynchronize(stream_));
  }

  size_t peak_memory_bytes() const override { return arena_->peak_bytes(); }

  // ---------------------------------------------------------------- weights

  Result<std::unique_ptr<Weight>> LoadWeight(const TensorView& src, WeightFormat format) override {
    Guard();
    if (src.dtype != DType::kF32 && src.dtype != DType::kF16 && src.dtype != DType::kBF16) {
      return Status::InvalidArgument(src.file + ": tensor " + src.name + " has dtype " + DTypeName(src.dtype) +
                                     "; weights must be F32, F16 or BF16");
    }
    const int64_t rows = src.shape.size() == 2 ? src.shape[0] : 1;
    const int64_t cols = src.shape.size() == 2 ? src.shape[1] : src.numel();
    const size_t n = static_cast<size_t>(rows * cols);
    // The weight as bf16 on the device (the dense storage, or the input of NF4 quantization).
    RITSU_ASSIGN_OR_RETURN(std::shared_ptr<Buffer> dense, AllocBytesAnnotated(n * sizeof(bf16), src));
    if (src.dtype == DType::kBF16) {
      CopyToDevice(dense->data(), src.data, n * sizeof(bf16));
    } else {
      std::vector<float> f(n);
      ConvertToFloat(src.dtype, src.data, f.data(), n);
      std::vector<uint16_t> b(n);
      ConvertFromFloat(DType::kBF16, f.data(), b.data(), n);
      CopyToDevice(dense->data(), b.data(), n * sizeof(bf16));
    }
    if (format == WeightFormat::kDense) {
      auto w = std::make_unique<CudaDenseWeight>();
      w->rows = rows;
      w->cols = cols;
      w->buffer = std::move(dense);
      return std::unique_ptr<Weight>(std::move(w));
    }
    if (src.shape.size() != 2 || cols % ::ritsu::kernels::kNf4BlockSize != 0) {
      return Status::InvalidArgument(src.file + ": tensor " + src.name + " " + src.Describe() +
                                     " cannot be stored NF4 (needs a 2-D weight whose rows are a multiple of 64)");
    }
    auto w = std::make_unique<CudaNf4Weight>();
    w->rows = rows;
    w->cols = cols;
    w->format = WeightFormat::kNf4;
    w->t.rows = rows;
    w->t.cols = cols;
    RITSU_ASSIGN_OR_RETURN(w->packed, AllocBytesAnnotated(size_t(w->t.packed_bytes()), src));
    RITSU_ASSIGN_OR_RETURN(w->absmax_q, AllocBytesAnnotated(size_t(w->t.blocks()), src));
    RITSU_ASSIGN_OR_RETURN(w->absmax_scale, AllocBytesAnnotated(size_t(w->t.absmax_blocks()) * sizeof(float), src));
    RITSU_ASSIGN_OR_RETURN(std::shared_ptr<Buffer> workspace,
                           AllocBytesAnnotated(size_t(w->t.blocks()) * sizeof(float), src));
    w->t.packed = static_cast<uint8_t*>(w->packed->data());
    w->t.absmax_q = static_cast<uint8_t*>(w->absmax_q->data());
    w->t.absmax_scale = static_cast<float*>(w->absmax_scale->data());
    w->t.absmax_code = static_cast<const float*>(code_->data());
    kg::nf4_quantize<bf16>(static_cast<const bf16*>(dense->data()), &w->t,
                           static_cast<float*>(workspace->data()), stream_);
    return std::unique_ptr<Weight>(std::move(w));  // the bf16 copy and workspace go back to the arena
  }

  std::unique_ptr<Weight> LoadWeightF32(const float* host, int64_t rows, int64_t cols) override {
    Guard();
    const size_t n = static_cast<size_t>(rows * cols);
    auto w = std::make_unique<CudaDenseWeight>();
    w->rows = rows;
    w->cols = cols;
    auto buf = AllocBytes(n * sizeof(bf16));
    if (!buf.ok()) FatalMemory(buf.status());
    w->buffer = std::move(buf.value());
    std::vector<uint16_t> b(n);
    ConvertFromFloat(DType::kBF16, host, b.data(), n);
    CopyToDevice(w->buffer->data(), b.data(), n * sizeof(bf16));
    return w;
  }

  // ---------------------------------------------------------------- forward ops

  void Embedding(const Tensor& ids, const Weight& table, const Tensor& out) override {
    Guard();
    kg::embedding_fwd<bf16>(Dense(table).data(), ids.as<const int32_t>(), B(out), ids.rows, table.cols,
                            table.rows, stream_);
  }

  void RmsNorm(const Tensor& x, const Weight& weight, float eps, const Tensor& y) override {
    Guard();
    kg::rms_norm_fwd<bf16>(B(x), Dense(weight).data(), B(y), nullptr, x.rows, x.cols, eps, stream_);
  }

  void Linear(const Tensor& x, const Weight& w, const Weight* bias, const Tensor& y) override {
    Guard();
    const bf16* b = bias ? Dense(*bias).data() : nullptr;
    if (w.format == WeightFormat::kDense) {
      if (y.dtype == DType::kF32) {
        kg::linear_fwd<bf16, float>(B(x), Dense(w).data(), b, y.as<float>(), x.rows, w.rows, w.cols, stream_);
      } else {
        kg::linear_fwd<bf16, bf16>(B(x), Dense(w).data(), b, B(y), x.rows, w.rows, w.cols, stream_);
      }
      return;
    }
    const auto& q = static_cast<const CudaNf4Weight&>(w).t;
    if (x.rows <= kGemvMaxRows) {
      // Decode: the fused dequant-GEMV, 8 rows per pass over the weight.
      for (int64_t r0 = 0; r0 < x.rows; r0 += 8) {
        const int64_t n = std::min<int64_t>(8, x.rows - r0);
        kg::nf4_gemv<bf16>(q, B(x) + r0 * x.cols, B(y) + r0 * y.cols, n, stream_);
      }
    } else {
      // Prefill: dequantize row tiles of W into a reused bf16 buffer, cuBLAS for each tile.
      const int64_t tile_rows = std::max<int64_t>(1, std::min<int64_t>(w.rows, kTileBytes / (w.cols * 2)));
      Tensor tile = Alloc(tile_rows, w.cols, DType::kBF16);
      for (int64_t r0 = 0; r0 < w.rows; r0 += tile_rows) {
        const int64_t n = std::min(tile_rows, w.rows - r0);
        kg::nf4_dequantize<bf16>(q, r0, n, B(tile), stream_);
        kg::gemm<bf16, bf16>(false, true, x.rows, n, w.cols, 1.0f, B(x), x.cols, B(tile), w.cols, 0.0f,
                             B(y) + r0, y.cols, stream_);
      }
    }
    if (b) kg::add_bias<bf16>(B(y), b, y.rows, y.cols, y.cols, stream_);
  }

  void LoraAdd(const Tensor& x, const Weight& a, const Weight& b, float scale, const Tensor& y) override {
    Guard();
    Tensor t = Alloc(x.rows, a.rows, DType::kBF16);
    kg::linear_fwd<bf16, bf16>(B(x), Dense(a).data(), nullptr, B(t), x.rows, a.rows, a.cols, stream_);
    kg::gemm<bf16, bf16>(false, true, x.rows, b.rows, b.cols, scale, B(t), a.rows, Dense(b).data(), b.cols, 1.0f,
                         B(y), y.cols, stream_);
  }

  void Rope(const Tensor& x, const StepLayout& step, int64_t n_heads, int64_t head_dim, float theta) override {
    Guard();
    const StepDevice& st = DeviceStep(step);
    kg::rope_fwd<bf16>(B(x), st.positions, step.n_tokens, n_heads, head_dim, x.cols, theta, stream_);
  }

  void Attention(const Tensor& q, const Tensor& k, const Tensor& v, KvCache& cache, int64_t layer,
                 const StepLayout& step, int64_t n_heads, const Tensor& out) override {
    Guard();
    const StepDevice& st = DeviceStep(step);
    const int64_t kv_dim = cache.n_kv_heads * cache.head_dim;
    bf16* kc = B(cache.k[layer]);
    bf16* vc = B(cache.v[layer]);
    kg::kv_cache_write<bf16>(B(k), B(v), k.cols, kc, vc, st.slots, st.positions, step.n_tokens, cache.n_kv_heads,
                             cache.head_dim, cache.max_seq, stream_);
    const float scale = 1.0f / std::sqrt(static_cast<float>(cache.head_dim));
    const auto& segs = step.segments;
    int64_t row = 0;
    for (size_t i = 0; i < segs.size();) {
      if (segs[i].n_tokens == 1) {
        // A run of decode rows: one split-K launch for all of them.
        size_t j = i;
        while (j < segs.size() && segs[j].n_tokens == 1) ++j;
        const int64_t count = static_cast<int64_t>(j - i);
        Tensor ws = Alloc(1, static_cast<int64_t>(kg::decode_attention_workspace_bytes(
                                 count, n_heads, cache.head_dim, cache.max_seq) / sizeof(float)) + 1,
                          DType::kF32);
        kg::decode_attention_fwd_split<bf16>(B(q) + row * q.cols, kc, vc, B(out) + row * out.cols, st.dec_slots + i,
                                             st.dec_lens + i, count, n_heads, cache.n_kv_heads, cache.head_dim,
                                             q.cols, cache.max_seq, scale, ws.as<float>(), stream_);
        row += count;
        i = j;
        continue;
      }
      const Segment& s = segs[i];
      if (s.n_tokens > 0) {
        // Prefill chunk: its queries against the slot's cached keys [0, start + n), causal.
        const size_t slot_off = static_cast<size_t>(s.slot) * cache.max_seq * kv_dim;
        kg::flash_attention_fwd<bf16>(B(q) + row * q.cols, kc + slot_off, vc + slot_off, B(out) + row * out.cols,
                                      nullptr, st.seg_cu + 4 * i, st.seg_cu + 4 * i + 2, 1, s.n_tokens, n_heads,
                                      cache.n_kv_heads, cache.head_dim, q.cols, kv_dim, scale, stream_);
      }
      row += s.n_tokens;
      ++i;
    }
  }

  void SwiGlu(const Tensor& gate, const Tensor& up, const Tensor& out) override {
    Guard();
    kg::swiglu_fwd<bf16>(B(gate), B(up), B(out), gate.rows, gate.cols, gate.cols, out.cols, stream_);
  }

  void Add(const Tensor& a, const Tensor& b, const Tensor& out) override {
    Guard();
    kg::add<bf16>(B(a), B(b), B(out), a.numel(), stream_);
  }

  void GatherRows(const Tensor& x, const std::vector<int64_t>& rows, const Tensor& out) override {
    Guard();
    const size_t row_bytes = static_cast<size_t>(x.cols) * DTypeSize(x.dtype);
    for (size_t i = 0; i < rows.size(); ++i) {
      RITSU_CUDA_CHECK(cudaMemcpyAsync(static_cast<uint8_t*>(out.data()) + i * row_bytes,
                                       static_cast<const uint8_t*>(x.data()) + rows[i] * row_bytes, row_bytes,
                                       cudaMemcpyDeviceToDevice, stream_));
    }
  }

  std::vector<int32_t> Sample(const Tensor& logits, const std::vector<SampleRequest>& requests) override {
    Guard();
    std::vector<::ritsu::kernels::SamplingParams> params(requests.size());
    std::vector<uint64_t> counters(requests.size());
    for (size_t i = 0; i < requests.size(); ++i) {
      params[i].temperature = requests[i].temperature;
      params[i].top_k = requests[i].top_k;
      params[i].top_p = requests[i].top_p;
      params[i].seed = requests[i].seed;
      counters[i] = requests[i].counter;
    }
    std::vector<int32_t> tokens(requests.size());
    if (logits.dtype == DType::kF32) {
      kg::sample<float>(logits.as<const float>(), logits.rows, logits.cols, logits.cols, params.data(),
                        counters.data(), tokens.data(), stream_);
    } else {
      kg::sample<bf16>(B(logits), logits.rows, logits.cols, logits.cols, params.data(), counters.data(),
                       tokens.data(), stream_);
    }
    return tokens;
  }

 private:
  // Decode rows up to this count use the fused GEMV (a pass over the weight per 8 rows);
  // above it, dequantize + cuBLAS is cheaper than re-reading the NF4 weight.
  static constexpr int64_t kGemvMaxRows = 32;
  static constexpr int64_t kTileBytes = int64_t(64) << 20;  // bf16 dequant tile for prefill

  static bf16* B(const Tensor& t) { return t.as<bf16>(); }

  void Guard() const { RITSU_CUDA_CHECK(cudaSetDevice(device_)); }

  Result<std::shared_ptr<Buffer>> AllocBytes(size_t bytes) {
    auto p = arena_->Allocate(bytes);
    if (!p.ok()) return p.status();
    return std::shared_ptr<Buffer>(std::make_shared<CudaBuffer>(arena_, p.value(), bytes));
  }

  Result<std::shared_ptr<Buffer>> AllocBytesAnnotated(size_t bytes, const TensorView& src) {
    auto b = AllocBytes(bytes);
    if (!b.ok()) return b.status().Annotate("loading " + src.name + " from " + src.file);
    return b;
  }

  void CopyToDevice(void* dst, const void* host, size_t bytes) {
    // Pageable source: the call returns once the bytes are staged, so `host` may be freed.
    RITSU_CUDA_CHECK(cudaMemcpyAsync(dst, host, bytes, cudaMemcpyHostToDevice, stream_));
  }

  const StepDevice& DeviceStep(const StepLayout& step) {
    if (step.device_state) return *static_cast<const StepDevice*>(step.device_state.get());
    const size_t n = static_cast<size_t>(step.n_tokens), nseg = step.segments.size();
    std::vector<int32_t> host;
    host.reserve(2 * n + 6 * nseg);
    host.insert(host.end(), step.positions.begin(), step.positions.end());
    host.insert(host.end(), step.slots.begin(), step.slots.end());
    for (const Segment& s : step.segments) {
      host.insert(host.end(), {0, s.n_tokens, 0, s.start_pos + s.n_tokens});
    }
    for (const Segment& s : step.segments) host.push_back(s.start_pos + s.n_tokens);
    for (const Segment& s : step.segments) host.push_back(s.slot);
    auto st = std::make_shared<StepDevice>();
    auto buf = AllocBytes(std::max<size_t>(1, host.size()) * sizeof(int32_t));
    if (!buf.ok()) FatalMemory(buf.status());
    st->buffer = std::move(buf.value());
    CopyToDevice(st->buffer->data(), host.data(), host.size() * sizeof(int32_t));
    int32_t* base = static_cast<int32_t*>(st->buffer->data());
    st->positions = base;
    st->slots = base + n;
    st->seg_cu = base + 2 * n;
    st->dec_lens = st->seg_cu + 4 * nseg;
    st->dec_slots = st->dec_lens + nseg;
    // device_state is the backend's per-step cache (backend.h); Finalize() clears it.
    const_cast<StepLayout&>(step).device_state = st;
    return *st;
  }

  int device_;
  cudaStream_t stream_;
  std::shared_ptr<DeviceArena> arena_;
  std::string device_name_;
  std::shared_ptr<Buffer> code_;  // the 256-entry absmax code on the device
};

}  // namespace

Result<std::unique_ptr<Backend>> MakeCudaBackend(const CudaBackendOptions& options) {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess || count == 0) {
    cudaGetLastError();
    return Status::Unavailable(std::string("no usable CUDA device (") +
                               (err != cudaSuccess ? cudaGetErrorString(err) : "none visible") +
                               "); check CUDA_VISIBLE_DEVICES and the driver, or use --device cpu");
  }
  if (options.device < 0 || options.device >= count) {
    return Status::InvalidArgument("--device cuda:" + std::to_string(options.device) + ": only " +
                                   std::to_string(count) + " CUDA device(s) visible");
  }
  if (cudaSetDevice(options.device) != cudaSuccess) {
    cudaGetLastError();
    return Status::Unavailable("cannot use CUDA device " + std::to_string(options.device));
  }
  cudaDeviceProp prop{};
  RITSU_CUDA_CHECK(cudaGetDeviceProperties(&prop, options.device));
  if (prop.major < 8) {
    return Status::FailedPrecondition(std::string("CUDA device ") + prop.name + " is sm_" +
                                      std::to_string(prop.major) + std::to_string(prop.minor) +
                                      "; the bf16 kernels need sm_80 or newer");
  }
  cudaStream_t stream = nullptr;
  RITSU_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  auto backend = std::make_unique<CudaBackend>(options.device, options.max_memory_bytes, stream, prop.name);
  RITSU_RETURN_IF_ERROR(backend->Init());
  return std::unique_ptr<Backend>(std::move(backend));
}

Result<std::unique_ptr<Backend>> MakeCudaBackend(int device) {
  CudaBackendOptions options;
  options.device = device;
  return MakeCudaBackend(options);
}

}  // namespace ritsu::engine
