// TrainDevice on one CUDA GPU: kernels::cuda (cuBLAS gemm, flash attention fwd/bwd, ...),
// fp32 activations (the frozen linears NF4 with --use-4bit, see LoraNet), the default stream. Built only with CUDA (engine/train/CMakeLists.txt).
// --max-gpu-memory is a hard cap on the bytes this device allocates: a request past it stops
// the run with the request, the bytes in use and the cap (TrainOutOfMemory, caught by the
// trainer and reported as an error, never a crash).
#include <cuda_runtime_api.h>

#include <cstdio>
#include <vector>

#include "engine/train/train_device.h"
#include "kernels/activation/activation.h"
#include "kernels/attention/attention.h"
#include "kernels/common/cuda_check.h"
#include "kernels/elementwise/elementwise.h"
#include "kernels/embedding/embedding.h"
#include "kernels/loss/loss.h"
#include "kernels/matmul/matmul.h"
#include "kernels/nf4/nf4.h"
#include "kernels/norm/norm.h"
#include "kernels/optim/optim.h"
#include "kernels/rope/rope.h"

namespace ritsu::train {
namespace {

namespace k = ritsu::kernels::cuda;

// Small caps (tests, 8M) would all print as "0.00 GiB": MiB below 1 GiB.
std::string GiB(size_t b) {
  char buf[32];
  if (b < (1ull << 30)) {
    std::snprintf(buf, sizeof buf, "%.2f MiB", static_cast<double>(b) / (1ull << 20));
  } else {
    std::snprintf(buf, sizeof buf, "%.2f GiB", static_cast<double>(b) / (1ull << 30));
  }
  return buf;
}

class CudaTrainDevice final : public TrainDevice {
 public:
  CudaTrainDevice(int ordinal, size_t cap) : ordinal_(ordinal), cap_(cap) {
    cudaDeviceProp prop{};
    RITSU_CUDA_CHECK(cudaGetDeviceProperties(&prop, ordinal));
    name_ = "cuda:" + std::to_string(ordinal) + " " + prop.name + " (fp32 compute)";
    RITSU_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&scratch_), sizeof(float)));
  }
  ~CudaTrainDevice() override { cudaFree(scratch_); }
  bool is_cuda() const override { return true; }
  std::string name() const override { return name_; }
  std::shared_ptr<void> Alloc(size_t bytes) override {
    if (cap_ > 0 && live_ + bytes > cap_) {
      throw TrainOutOfMemory("--max-gpu-memory " + GiB(cap_) + " exceeded: a request of " + GiB(bytes) + " with " +
                             GiB(live_) + " in use needs at least " + GiB(live_ + bytes));
    }
    void* p = nullptr;
    if (cudaMalloc(&p, bytes ? bytes : 1) != cudaSuccess) {
      cudaGetLastError();
      throw TrainOutOfMemory("cudaMalloc of " + GiB(bytes) + " failed with " + GiB(live_) + " in use on " + name_);
    }
    live_ += bytes;
    peak_ = std::max(peak_, live_);
    return std::shared_ptr<void>(p, [this, bytes](void* q) {
      live_ -= bytes;
      cudaFree(q);
    });
  }
  void Upload(void* dst, const void* host, size_t bytes) override {
    RITSU_CUDA_CHECK(cudaMemcpy(dst, host, bytes, cudaMemcpyHostToDevice));
  }
  void Download(void* host, const void* src, size_t bytes) override {
    RITSU_CUDA_CHECK(cudaMemcpy(host, src, bytes, cudaMemcpyDeviceToHost));
  }
  void Copy(void* dst, const void* src, size_t bytes) override {
    RITSU_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice));
  }
  void Zero(void* dst, size_t bytes) override { RITSU_CUDA_CHECK(cudaMemset(dst, 0, bytes)); }
  size_t peak_bytes() const override { return peak_; }

  void Gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, const float* B,
            int64_t ldb, float beta, float* C, int64_t ldc) override {
    k::gemm<float, float>(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, nullptr);
  }
  void AddBias(float* x, const float* bias, int64_t rows, int64_t dim) override {
    k::add_bias<float>(x, bias, rows, dim, dim, nullptr);
  }
  void Add(const float* a, const float* b, float* out, int64_t n) override { k::add<float>(a, b, out, n, nullptr); }
  void RmsNormFwd(const float* x, const float* w, float* y, float* rstd, int64_t rows, int64_t dim, float eps) override {
    k::rms_norm_fwd<float>(x, w, y, rstd, rows, dim, eps, nullptr);
  }
  void RmsNormBwd(const float* x, const float* w, const float* rstd, const float* dy, float* dx, int64_t rows,
                  int64_t dim) override {
    k::rms_norm_bwd<float>(x, w, rstd, dy, dx, nullptr, rows, dim, nullptr);
  }
  void RopeFwd(float* x, const int32_t* pos, int64_t n, int64_t heads, int64_t hd, float theta) override {
    k::rope_fwd<float>(x, pos, n, heads, hd, heads * hd, theta, nullptr);
  }
  void RopeBwd(float* dx, const int32_t* pos, int64_t n, int64_t heads, int64_t hd, float theta) override {
    k::rope_bwd<float>(dx, pos, n, heads, hd, heads * hd, theta, nullptr);
  }
  void FlashFwd(const float* q, const float* kk, const float* v, float* out, float* lse, const int32_t* cu,
                int64_t batch, int64_t max_len, int64_t nh, int64_t nkv, int64_t hd, float scale) override {
    k::flash_attention_fwd<float>(q, kk, v, out, lse, cu, cu, batch, max_len, nh, nkv, hd, nh * hd, nkv * hd, scale,
                                  nullptr);
  }
  void FlashBwd(const float* q, const float* kk, const float* v, const float* out, const float* lse, const float* dout,
                float* dq, float* dk, float* dv, const int32_t* cu, int64_t batch, int64_t max_len, int64_t nh,
                int64_t nkv, int64_t hd, float scale) override {
    k::flash_attention_bwd<float>(q, kk, v, out, lse, dout, dq, dk, dv, cu, cu, batch, max_len, nh, nkv, hd, nh * hd,
                                  nkv * hd, scale, nullptr);
  }
  void SwigluFwd(const float* g, const float* u, float* out, int64_t rows, int64_t dim) override {
    k::swiglu_fwd<float>(g, u, out, rows, dim, dim, dim, nullptr);
  }
  void SwigluBwd(const float* g, const float* u, const float* dout, float* dg, float* du, int64_t rows,
                 int64_t dim) override {
    k::swiglu_bwd<float>(g, u, dout, dg, du, rows, dim, dim, dim, nullptr);
  }
  void Embedding(const float* table, const int32_t* ids, float* out, int64_t n, int64_t dim, int64_t vocab) override {
    k::embedding_fwd<float>(table, ids, out, n, dim, vocab, nullptr);
  }
  void CrossEntropy(float* logits, const int32_t* labels, float* loss, int64_t rows, int64_t vocab,
                    float grad_scale) override {
    k::cross_entropy_fwd_bwd<float>(logits, vocab, labels, loss, logits, rows, vocab, grad_scale, nullptr);
  }
  // The dropout mask comes from the host generator (so CPU and GPU runs use the same masks):
  // a round trip through host memory, slow but exact. A device-side generator is the next step.
  void MulHost(float* x, const float* f, int64_t n) override {
    std::vector<float> h(static_cast<size_t>(n));
    Download(h.data(), x, h.size() * sizeof(float));
    for (size_t i = 0; i < h.size(); ++i) h[i] *= f[i];
    Upload(x, h.data(), h.size() * sizeof(float));
  }
  void AdamW(float* p, const float* g, float* m, float* v, int64_t n, float lr, float wd, int64_t step,
             float grad_scale) override {
    kernels::AdamWParams ap;
    ap.lr = lr;
    ap.weight_decay = wd;
    ap.step = step;
    ap.grad_scale = grad_scale;
    k::adamw_step(p, g, m, v, n, ap, nullptr);
  }
  void Nf4Dequantize(const kernels::Nf4Tensor& w, float* out) override {
    k::nf4_dequantize<float>(w, 0, w.rows, out, nullptr);
  }
  double SumSquares(const float* x, int64_t n) override {
    k::sum_squares(x, n, scratch_, nullptr);
    float out = 0;
    Download(&out, scratch_, sizeof(float));
    return out;
  }

 private:
  int ordinal_;
  size_t cap_;
  std::string name_;
  size_t live_ = 0, peak_ = 0;
  float* scratch_ = nullptr;
};

}  // namespace

Result<std::unique_ptr<TrainDevice>> MakeCudaTrainDevice(int ordinal, size_t max_bytes) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    cudaGetLastError();
    return Status::FailedPrecondition("--device cuda: no usable CUDA GPU");
  }
  if (ordinal < 0 || ordinal >= count) {
    return Status::InvalidArgument("--device cuda:" + std::to_string(ordinal) + ": only " + std::to_string(count) +
                                   " GPUs visible");
  }
  if (cudaSetDevice(ordinal) != cudaSuccess) return Status::FailedPrecondition("cudaSetDevice failed");
  return std::unique_ptr<TrainDevice>(new CudaTrainDevice(ordinal, max_bytes));
}

}  // namespace ritsu::train
