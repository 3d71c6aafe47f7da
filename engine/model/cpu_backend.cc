// The CPU backend: fp32 activations and dense weights, every op a kernels::cpu twin. Simple
// and exact rather than fast: it is the oracle the CUDA backend and the parity tests compare
// against, and what CI runs.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "engine/model/backend.h"
#include "kernels/activation/activation.h"
#include "kernels/attention/attention.h"
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

namespace kc = ::ritsu::kernels::cpu;
constexpr ::ritsu::kernels::Stream kNoStream = nullptr;

// Current and peak bytes; shared by the backend and its buffers (which may outlive it).
struct MemoryCounter {
  std::atomic<size_t> current{0};
  std::atomic<size_t> peak{0};
  void Add(size_t n) {
    size_t now = current.fetch_add(n) + n;
    size_t p = peak.load();
    while (now > p && !peak.compare_exchange_weak(p, now)) {
    }
  }
};

class CpuBuffer final : public Buffer {
 public:
  CpuBuffer(size_t bytes, std::shared_ptr<MemoryCounter> counter) : bytes_(bytes), counter_(std::move(counter)) {
    // 64-byte aligned so vectorised loops in the kernels see aligned rows.
    data_ = std::aligned_alloc(64, std::max<size_t>(64, (bytes + 63) / 64 * 64));
    if (!data_) {
      std::fprintf(stderr, "ritsu-engine: out of host memory allocating %zu bytes\n", bytes);
      std::abort();
    }
    counter_->Add(bytes_);
  }
  ~CpuBuffer() override {
    std::free(data_);
    counter_->current -= bytes_;
  }
  void* data() override { return data_; }
  size_t bytes() const override { return bytes_; }

 private:
  void* data_ = nullptr;
  size_t bytes_;
  std::shared_ptr<MemoryCounter> counter_;
};

class DenseWeight final : public Weight {
 public:
  std::vector<float> values;
};

class Nf4Weight final : public Weight {
 public:
  std::vector<uint8_t> packed, absmax_q;
  std::vector<float> absmax_scale;
  ::ritsu::kernels::Nf4Tensor t;  // points into the vectors above
};

const float* F(const Tensor& t) { return t.as<const float>(); }
float* Fm(const Tensor& t) { return t.as<float>(); }
const DenseWeight& Dense(const Weight& w) { return static_cast<const DenseWeight&>(w); }

class CpuBackend final : public Backend {
 public:
  CpuBackend() : memory_(std::make_shared<MemoryCounter>()) {}

  DeviceKind kind() const override { return DeviceKind::kCpu; }
  std::string name() const override { return "cpu (fp32)"; }
  DType activation_dtype() const override { return DType::kF32; }

  Tensor Alloc(int64_t rows, int64_t cols, DType dtype) override {
    Tensor t;
    t.dtype = dtype;
    t.rows = rows;
    t.cols = cols;
    t.buffer = std::make_shared<CpuBuffer>(t.nbytes(), memory_);
    return t;
  }

  void Upload(const void* host, DType host_dtype, const Tensor& dst) override {
    if (dst.dtype == DType::kI32 || host_dtype == DType::kI32) {
      std::memcpy(dst.data(), host, dst.nbytes());
      return;
    }
    ConvertToFloat(host_dtype, host, Fm(dst), static_cast<size_t>(dst.numel()));
  }

  void Download(const Tensor& src, float* dst) override { std::memcpy(dst, F(src), src.nbytes()); }
  void Synchronize() override {}
  size_t peak_memory_bytes() const override { return memory_->peak.load(); }

  Result<std::unique_ptr<Weight>> LoadWeight(const TensorView& src, WeightFormat format) override {
    if (src.dtype != DType::kF32 && src.dtype != DType::kF16 && src.dtype != DType::kBF16) {
      return Status::InvalidArgument(src.file + ": tensor " + src.name + " has dtype " + DTypeName(src.dtype) +
                                     "; weights must be F32, F16 or BF16");
    }
    const int64_t rows = src.shape.size() == 2 ? src.shape[0] : 1;
    const int64_t cols = src.shape.size() == 2 ? src.shape[1] : src.numel();
    std::vector<float> values(static_cast<size_t>(src.numel()));
    ConvertToFloat(src.dtype, src.data, values.data(), values.size());
    if (format == WeightFormat::kDense) {
      auto w = std::make_unique<DenseWeight>();
      w->rows = rows;
      w->cols = cols;
      w->values = std::move(values);
      return std::unique_ptr<Weight>(std::move(w));
    }
    if (src.shape.size() != 2 || cols % ::ritsu::kernels::kNf4BlockSize != 0) {
      return Status::InvalidArgument(src.file + ": tensor " + src.name + " " + src.Describe() +
                                     " cannot be stored NF4 (needs a 2-D weight whose rows are a multiple of 64)");
    }
    auto w = std::make_unique<Nf4Weight>();
    w->rows = rows;
    w->cols = cols;
    w->format = WeightFormat::kNf4;
    w->t.rows = rows;
    w->t.cols = cols;
    w->packed.resize(static_cast<size_t>(w->t.packed_bytes()));
    w->absmax_q.resize(static_cast<size_t>(w->t.blocks()));
    w->absmax_scale.resize(static_cast<size_t>(w->t.absmax_blocks()));
    w->t.packed = w->packed.data();
    w->t.absmax_q = w->absmax_q.data();
    w->t.absmax_scale = w->absmax_scale.data();
    w->t.absmax_code = ::ritsu::kernels::nf4_absmax_code();
    std::vector<float> workspace(static_cast<size_t>(w->t.blocks()));
    kc::nf4_quantize<float>(values.data(), &w->t, workspace.data(), kNoStream);
    return std::unique_ptr<Weight>(std::move(w));
  }

  std::unique_ptr<Weight> LoadWeightF32(const float* host, int64_t rows, int64_t cols) override {
    auto w = std::make_unique<DenseWeight>();
    w->rows = rows;
    w->cols = cols;
    w->values.assign(host, host + rows * cols);
    return w;
  }

  void Embedding(const Tensor& ids, const Weight& table, const Tensor& out) override {
    kc::embedding_fwd<float>(Dense(table).values.data(), ids.as<const int32_t>(), Fm(out), ids.rows, table.cols,
                             table.rows, kNoStream);
  }

  void RmsNorm(const Tensor& x, const Weight& weight, float eps, const Tensor& y) override {
    kc::rms_norm_fwd<float>(F(x), Dense(weight).values.data(), Fm(y), nullptr, x.rows, x.cols, eps, kNoStream);
  }

  void Linear(const Tensor& x, const Weight& w, const Weight* bias, const Tensor& y) override {
    const float* b = bias ? Dense(*bias).values.data() : nullptr;
    if (w.format == WeightFormat::kDense) {
      kc::linear_fwd<float, float>(F(x), Dense(w).values.data(), b, Fm(y), x.rows, w.rows, w.cols, kNoStream);
      return;
    }
    const auto& q = static_cast<const Nf4Weight&>(w).t;
    if (x.rows <= 8) {
      // Decode shape: the fused dequant-GEMV, as the CUDA backend uses.
      kc::nf4_gemv<float>(q, F(x), Fm(y), x.rows, kNoStream);
    } else {
      // Prefill shape: dequantize a tile of rows of W and multiply, tile by tile.
      constexpr int64_t kTileRows = 256;
      std::vector<float> tile(static_cast<size_t>(std::min(kTileRows, w.rows) * w.cols));
      for (int64_t r0 = 0; r0 < w.rows; r0 += kTileRows) {
        const int64_t n = std::min(kTileRows, w.rows - r0);
        kc::nf4_dequantize<float>(q, r0, n, tile.data(), kNoStream);
        kc::gemm<float, float>(false, true, x.rows, n, w.cols, 1.0f, F(x), x.cols, tile.data(), w.cols, 0.0f,
                               Fm(y) + r0, y.cols, kNoStream);
      }
    }
    if (b) kc::add_bias<float>(Fm(y), b, y.rows, y.cols, y.cols, kNoStream);
  }

  void LoraAdd(const Tensor& x, const Weight& a, const Weight& b, float scale, const Tensor& y) override {
    std::vector<float> t(static_cast<size_t>(x.rows * a.rows));
    kc::linear_fwd<float, float>(F(x), Dense(a).values.data(), nullptr, t.data(), x.rows, a.rows, a.cols, kNoStream);
    kc::gemm<float, float>(false, true, x.rows, b.rows, b.cols, scale, t.data(), a.rows, Dense(b).values.data(), b.cols,
                           1.0f, Fm(y), y.cols, kNoStream);
  }

  void Rope(const Tensor& x, const StepLayout& step, int64_t n_heads, int64_t head_dim, float theta) override {
    kc::rope_fwd<float>(Fm(x), step.positions.data(), step.n_tokens, n_heads, head_dim, x.cols, theta, kNoStream);
  }

  void Attention(const Tensor& q, const Tensor& k, const Tensor& v, KvCache& cache, int64_t layer,
                 const StepLayout& step, int64_t n_heads, const Tensor& out) override {
    const int64_t kv_dim = cache.n_kv_heads * cache.head_dim;
    float* kc_data = Fm(cache.k[layer]);
    float* vc_data = Fm(cache.v[layer]);
    kc::kv_cache_write<float>(F(k), F(v), k.cols, kc_data, vc_data, step.slots.data(), step.positions.data(),
                              step.n_tokens, cache.n_kv_heads, cache.head_dim, cache.max_seq, kNoStream);
    const float scale = 1.0f / std::sqrt(static_cast<float>(cache.head_dim));
    int64_t row = 0;
    for (const Segment& s : step.segments) {
      const float* qs = F(q) + row * q.cols;
      float* os = Fm(out) + row * out.cols;
      if (s.n_tokens == 1) {
        const int32_t seq_len = s.start_pos + 1;
        kc::decode_attention_fwd<float>(qs, kc_data, vc_data, os, &s.slot, &seq_len, 1, n_heads, cache.n_kv_heads,
                                        cache.head_dim, q.cols, cache.max_seq, scale, kNoStream);
      } else {
        // Prefill chunk: queries attend to the slot's cached keys [0, start + n), causal.
        const int32_t cu_q[2] = {0, s.n_tokens};
        const int32_t cu_k[2] = {0, s.start_pos + s.n_tokens};
        const size_t slot_off = static_cast<size_t>(s.slot) * cache.max_seq * kv_dim;
        kc::flash_attention_fwd<float>(qs, kc_data + slot_off, vc_data + slot_off, os, nullptr, cu_q, cu_k, 1,
                                       s.n_tokens, n_heads, cache.n_kv_heads, cache.head_dim, q.cols, kv_dim, scale,
                                       kNoStream);
      }
      row += s.n_tokens;
    }
  }

  void SwiGlu(const Tensor& gate, const Tensor& up, const Tensor& out) override {
    kc::swiglu_fwd<float>(F(gate), F(up), Fm(out), gate.rows, gate.cols, gate.cols, out.cols, kNoStream);
  }

  void Add(const Tensor& a, const Tensor& b, const Tensor& out) override {
    kc::add<float>(F(a), F(b), Fm(out), a.numel(), kNoStream);
  }

  void GatherRows(const Tensor& x, const std::vector<int64_t>& rows, const Tensor& out) override {
    for (size_t i = 0; i < rows.size(); ++i) {
      std::memcpy(Fm(out) + i * out.cols, F(x) + rows[i] * x.cols, static_cast<size_t>(x.cols) * sizeof(float));
    }
  }

  std::vector<int32_t> Sample(const Tensor& logits, const std::vector<SampleRequest>& requests) override {
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
    kc::sample<float>(F(logits), logits.rows, logits.cols, logits.cols, params.data(), counters.data(), tokens.data(),
                      kNoStream);
    return tokens;
  }

 private:
  std::shared_ptr<MemoryCounter> memory_;
};

}  // namespace

std::unique_ptr<Backend> MakeCpuBackend() { return std::make_unique<CpuBackend>(); }

}  // namespace ritsu::engine
