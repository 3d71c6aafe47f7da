// Where LoraNet's numbers live and which kernels compute them: the host with kernels::cpu
// (the oracle, CI) or one CUDA device with kernels::cuda. Every op forwards to the kernel of
// the same name and signature (kernels/<family>/<family>.h), so LoraNet is written once.
// Storage: fp32 activations and LoRA; with --use-4bit the frozen decoder linears are kept as
// NF4 (bitsandbytes layout) and dequantized to an fp32 scratch one linear at a time.
//
// DVec is a resizable float/int array in the device's memory. Thread-safety: one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/status.h"
#include "kernels/nf4/nf4.h"

namespace ritsu::train {

class TrainDevice;

// Thrown by TrainDevice::Alloc past --max-gpu-memory (or when the device is full); the trainer
// catches it and reports the message as an error.
class TrainOutOfMemory : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

template <class T>
class DVec {
 public:
  DVec() = default;
  DVec(TrainDevice* dev, size_t n) : dev_(dev) { resize(n); }
  T* data() { return ptr_; }
  const T* data() const { return ptr_; }
  size_t size() const { return n_; }
  bool empty() const { return n_ == 0; }
  void bind(TrainDevice* dev) { dev_ = dev; }
  // Contents are undefined after a resize that grows the buffer.
  void resize(size_t n);
  void clear() {
    mem_.reset();
    ptr_ = nullptr;
    n_ = cap_ = 0;
  }

 private:
  TrainDevice* dev_ = nullptr;
  std::shared_ptr<void> mem_;
  T* ptr_ = nullptr;
  size_t n_ = 0, cap_ = 0;
};

class TrainDevice {
 public:
  virtual ~TrainDevice() = default;
  virtual bool is_cuda() const = 0;
  virtual std::string name() const = 0;
  virtual std::shared_ptr<void> Alloc(size_t bytes) = 0;
  virtual void Upload(void* dst, const void* host, size_t bytes) = 0;
  virtual void Download(void* host, const void* src, size_t bytes) = 0;
  virtual void Copy(void* dst, const void* src, size_t bytes) = 0;
  virtual void Zero(void* dst, size_t bytes) = 0;
  virtual size_t peak_bytes() const = 0;

  // ---- the kernels LoraNet uses (fp32), same arguments as kernels::cpu / kernels::cuda
  virtual void Gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                    const float* B, int64_t ldb, float beta, float* C, int64_t ldc) = 0;
  virtual void AddBias(float* x, const float* bias, int64_t rows, int64_t dim) = 0;
  virtual void Add(const float* a, const float* b, float* out, int64_t n) = 0;
  virtual void RmsNormFwd(const float* x, const float* w, float* y, float* rstd, int64_t rows, int64_t dim,
                          float eps) = 0;
  virtual void RmsNormBwd(const float* x, const float* w, const float* rstd, const float* dy, float* dx, int64_t rows,
                          int64_t dim) = 0;
  virtual void RopeFwd(float* x, const int32_t* pos, int64_t n, int64_t heads, int64_t hd, float theta) = 0;
  virtual void RopeBwd(float* dx, const int32_t* pos, int64_t n, int64_t heads, int64_t hd, float theta) = 0;
  virtual void FlashFwd(const float* q, const float* k, const float* v, float* out, float* lse, const int32_t* cu,
                        int64_t batch, int64_t max_len, int64_t nh, int64_t nkv, int64_t hd, float scale) = 0;
  virtual void FlashBwd(const float* q, const float* k, const float* v, const float* out, const float* lse,
                        const float* dout, float* dq, float* dk, float* dv, const int32_t* cu, int64_t batch,
                        int64_t max_len, int64_t nh, int64_t nkv, int64_t hd, float scale) = 0;
  virtual void SwigluFwd(const float* g, const float* u, float* out, int64_t rows, int64_t dim) = 0;
  virtual void SwigluBwd(const float* g, const float* u, const float* dout, float* dg, float* du, int64_t rows,
                         int64_t dim) = 0;
  virtual void Embedding(const float* table, const int32_t* ids, float* out, int64_t n, int64_t dim,
                         int64_t vocab) = 0;
  virtual void CrossEntropy(float* logits, const int32_t* labels, float* loss, int64_t rows, int64_t vocab,
                            float grad_scale) = 0;
  // x[i] *= factors[i] (host factors: the dropout mask is generated on the host).
  virtual void MulHost(float* x, const float* host_factors, int64_t n) = 0;
  virtual void AdamW(float* p, const float* g, float* m, float* v, int64_t n, float lr, float wd, int64_t step,
                     float grad_scale) = 0;
  virtual double SumSquares(const float* x, int64_t n) = 0;
  // out[w.rows, w.cols] = the fp32 values of the NF4 weight w (its buffers in this device's
  // memory): the frozen QLoRA base is stored packed and dequantized one linear at a time.
  virtual void Nf4Dequantize(const kernels::Nf4Tensor& w, float* out) = 0;

  // Convenience: host vector <-> DVec.
  template <class T>
  DVec<T> FromHost(const std::vector<T>& v) {
    DVec<T> d(this, v.size());
    if (!v.empty()) Upload(d.data(), v.data(), v.size() * sizeof(T));
    return d;
  }
  template <class T>
  std::vector<T> ToHost(const DVec<T>& d) {
    std::vector<T> v(d.size());
    if (!v.empty()) Download(v.data(), d.data(), v.size() * sizeof(T));
    return v;
  }
};

template <class T>
void DVec<T>::resize(size_t n) {
  if (n > cap_) {
    mem_ = dev_->Alloc(n * sizeof(T));
    ptr_ = static_cast<T*>(mem_.get());
    cap_ = n;
  }
  n_ = n;
}

// The host device (kernels::cpu).
std::unique_ptr<TrainDevice> MakeCpuTrainDevice();
// CUDA device `ordinal` (kernels::cuda); an error when CUDA is not built in or no GPU is usable.
Result<std::unique_ptr<TrainDevice>> MakeCudaTrainDevice(int ordinal, size_t max_bytes);

}  // namespace ritsu::train
