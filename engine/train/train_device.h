// Where LoraNet's numbers live and which kernels compute them: the host with kernels::cpu
// (the oracle, CI) or one CUDA device with kernels::cuda. Every op forwards to the kernel of
// the same name and signature (kernels/<family>/<family>.h; both devices share one body,
// kernel_train_device.inc), so LoraNet is written once.
// Storage: fp32 activations, LoRA masters and optimizer states. The frozen products (every
// decoder linear, the lm_head) and attention run in the device's compute dtype:
//   kFp32  fp32 operands (the exact oracle; --bnb-4bit-compute-dtype float32);
//   kBf16  bf16 operands with fp32 accumulation and fp32 results, as bitsandbytes'
//          bnb_4bit_compute_dtype=bfloat16 computes (the default on a GPU): the frozen
//          weights are stored (or NF4-dequantized) as bf16 and the fp32 activations are cast
//          to bf16 right before each product.
// With --use-4bit the frozen decoder linears are kept as NF4 (bitsandbytes layout) and
// dequantized to a scratch one linear at a time.
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
#include "kernels/common/types.h"
#include "kernels/nf4/nf4.h"

namespace ritsu::train {

class TrainDevice;

enum class ComputeDtype { kFp32, kBf16 };
inline const char* ComputeDtypeName(ComputeDtype c) { return c == ComputeDtype::kBf16 ? "bf16" : "fp32"; }

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
  explicit TrainDevice(ComputeDtype compute) : compute_(compute) {}
  virtual ~TrainDevice() = default;
  virtual bool is_cuda() const = 0;
  virtual std::string name() const = 0;
  ComputeDtype compute() const { return compute_; }
  bool computes_bf16() const { return compute_ == ComputeDtype::kBf16; }
  virtual std::shared_ptr<void> Alloc(size_t bytes) = 0;
  virtual void Upload(void* dst, const void* host, size_t bytes) = 0;
  virtual void Download(void* host, const void* src, size_t bytes) = 0;
  virtual void Copy(void* dst, const void* src, size_t bytes) = 0;
  virtual void Zero(void* dst, size_t bytes) = 0;
  // High-water marks: of the bytes held by live buffers, and of the bytes reserved from the
  // device (live + the CUDA device's cache of freed blocks; what --max-gpu-memory caps).
  virtual size_t peak_bytes() const = 0;
  virtual size_t peak_reserved_bytes() const { return peak_bytes(); }
  // Returns cached free memory to the device (the CUDA allocator keeps freed blocks).
  virtual void Trim() {}

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
  virtual void CrossEntropy(float* logits, const int32_t* labels, float* loss, int64_t rows, int64_t vocab,
                            float grad_scale) = 0;
  // out[i, :] = table[ids[i], :] (rows of a [rows, dim] table) and its adjoint
  // dst[ids[i], :] += src[i, :]: the loss gathers its labelled rows and scatters their gradient.
  virtual void GatherRows(const float* table, const int32_t* ids, float* out, int64_t n, int64_t dim,
                          int64_t rows) = 0;
  virtual void ScatterAddRows(const float* src, const int32_t* ids, float* dst, int64_t n, int64_t dim,
                              int64_t rows) = 0;
  // peft's lora_dropout (kernels/dropout: a counter-based mask, a pure function of seed and
  // index, so the backward and the recomputed forward regenerate it). y/dx may alias x/dy.
  virtual void DropoutFwd(const float* x, float* y, int64_t n, float p, uint64_t seed) = 0;
  virtual void DropoutBwd(const float* dy, float* dx, int64_t n, float p, uint64_t seed) = 0;
  virtual void AdamW(float* p, const float* g, float* m, float* v, int64_t n, float lr, float wd, int64_t step,
                     float grad_scale) = 0;
  virtual double SumSquares(const float* x, int64_t n) = 0;
  // out[w.rows, w.cols] = the fp32 values of the NF4 weight w (its buffers in this device's
  // memory): the frozen QLoRA base is stored packed and dequantized one linear at a time.
  virtual void Nf4Dequantize(const kernels::Nf4Tensor& w, float* out) = 0;
  // Quantizes w (this device's memory, [t->rows, t->cols]) into t's buffers (this device's
  // memory); workspace holds t->blocks() floats. Bit-identical on both devices.
  virtual void Nf4Quantize(const float* w, kernels::Nf4Tensor* t, float* workspace) = 0;

  // ---- bf16 compute (ComputeDtype::kBf16): bf16 operands, fp32 accumulation and results.
  virtual void CastToBf16(const float* x, bf16* y, int64_t n) = 0;
  virtual void CastToF32(const bf16* x, float* y, int64_t n) = 0;
  virtual void GemmBf16(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const bf16* A, int64_t lda,
                        const bf16* B, int64_t ldb, float beta, float* C, int64_t ldc) = 0;
  virtual void Nf4DequantizeBf16(const kernels::Nf4Tensor& w, bf16* out) = 0;
  // Attention on bf16 q/k/v (tensor cores on the GPU); lse, dk and dv stay fp32.
  virtual void FlashFwdBf16(const bf16* q, const bf16* k, const bf16* v, bf16* out, float* lse, const int32_t* cu,
                            int64_t batch, int64_t max_len, int64_t nh, int64_t nkv, int64_t hd, float scale) = 0;
  virtual void FlashBwdBf16(const bf16* q, const bf16* k, const bf16* v, const bf16* out, const float* lse,
                            const bf16* dout, bf16* dq, float* dk, float* dv, const int32_t* cu, int64_t batch,
                            int64_t max_len, int64_t nh, int64_t nkv, int64_t hd, float scale) = 0;

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

 private:
  ComputeDtype compute_;
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

// The host device (kernels::cpu): fp32 by default (the oracle); kBf16 emulates the GPU's bf16
// compute bit for bit in its roundings (slow: tests only).
std::unique_ptr<TrainDevice> MakeCpuTrainDevice(ComputeDtype compute = ComputeDtype::kFp32);
// CUDA device `ordinal` (kernels::cuda); an error when CUDA is not built in or no GPU is usable.
// max_bytes > 0 caps the bytes reserved on the device (--max-gpu-memory).
Result<std::unique_ptr<TrainDevice>> MakeCudaTrainDevice(int ordinal, size_t max_bytes,
                                                         ComputeDtype compute = ComputeDtype::kBf16);

}  // namespace ritsu::train
