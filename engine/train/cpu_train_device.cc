// TrainDevice on the host: kernels::cpu.
#include <cstdlib>
#include <cstring>

#include "engine/train/train_device.h"
#include "kernels/activation/activation.h"
#include "kernels/attention/attention.h"
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

namespace k = ritsu::kernels::cpu;

class CpuTrainDevice final : public TrainDevice {
 public:
  bool is_cuda() const override { return false; }
  std::string name() const override { return "cpu (fp32)"; }
  std::shared_ptr<void> Alloc(size_t bytes) override {
    live_ += bytes;
    peak_ = std::max(peak_, live_);
    return std::shared_ptr<void>(std::malloc(bytes ? bytes : 1), [this, bytes](void* p) {
      live_ -= bytes;
      std::free(p);
    });
  }
  void Upload(void* dst, const void* host, size_t bytes) override { std::memcpy(dst, host, bytes); }
  void Download(void* host, const void* src, size_t bytes) override { std::memcpy(host, src, bytes); }
  void Copy(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
  void Zero(void* dst, size_t bytes) override { std::memset(dst, 0, bytes); }
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
  void MulHost(float* x, const float* f, int64_t n) override {
    for (int64_t i = 0; i < n; ++i) x[i] *= f[i];
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
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += static_cast<double>(x[i]) * x[i];
    return s;
  }

 private:
  size_t live_ = 0, peak_ = 0;
};

}  // namespace

std::unique_ptr<TrainDevice> MakeCpuTrainDevice() { return std::make_unique<CpuTrainDevice>(); }

#if !defined(RITSU_TRAIN_WITH_CUDA)
Result<std::unique_ptr<TrainDevice>> MakeCudaTrainDevice(int, size_t) {
  return Status::FailedPrecondition("--device cuda: this ritsu-engine was built without CUDA");
}
#endif

}  // namespace ritsu::train
