// TrainDevice on one CUDA GPU: kernels::cuda (cuBLAS gemm, flash attention fwd/bwd, ...) on
// the legacy default stream. Built only with CUDA (engine/train/CMakeLists.txt).
//
// Memory: a CachingPool (caching_pool.h) over cudaMalloc/cudaFree. One stream: a block freed
// by the host is reused only by work queued after the work that used it. --max-gpu-memory caps
// the bytes reserved from the device (live + cached); past it the run stops with the request,
// the bytes in use and the cap (TrainOutOfMemory, caught by the trainer and reported as an
// error, never a crash).
#include <cuda_runtime_api.h>


#include "engine/train/caching_pool.h"
#include "engine/train/train_device.h"
#include "kernels/activation/activation.h"
#include "kernels/attention/attention.h"
#include "kernels/common/cuda_check.h"
#include "kernels/dropout/dropout.h"
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
#include "engine/train/kernel_train_device.inc"

class CudaTrainDevice final : public KernelTrainDevice {
 public:
  CudaTrainDevice(int ordinal, size_t cap, ComputeDtype compute)
      : KernelTrainDevice(compute), name_(DeviceName(ordinal, compute)), pool_(&DeviceMalloc, &DeviceFree, cap, name_) {
    RITSU_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&scratch_), sizeof(float)));
  }
  ~CudaTrainDevice() override { cudaFree(scratch_); }
  bool is_cuda() const override { return true; }
  std::string name() const override { return name_; }
  std::shared_ptr<void> Alloc(size_t bytes) override { return pool_.Alloc(bytes); }
  void Upload(void* dst, const void* host, size_t bytes) override {
    RITSU_CUDA_CHECK(cudaMemcpy(dst, host, bytes, cudaMemcpyHostToDevice));
  }
  void Download(void* host, const void* src, size_t bytes) override {
    RITSU_CUDA_CHECK(cudaMemcpy(host, src, bytes, cudaMemcpyDeviceToHost));
  }
  void Copy(void* dst, const void* src, size_t bytes) override {
    RITSU_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, nullptr));
  }
  void Zero(void* dst, size_t bytes) override { RITSU_CUDA_CHECK(cudaMemsetAsync(dst, 0, bytes, nullptr)); }
  size_t peak_bytes() const override { return pool_.peak_bytes(); }
  size_t peak_reserved_bytes() const override { return pool_.peak_reserved_bytes(); }
  void Trim() override { pool_.ReleaseCache(); }
  double SumSquares(const float* x, int64_t n) override {
    k::sum_squares(x, n, scratch_, nullptr);
    float out = 0;
    Download(&out, scratch_, sizeof(float));
    return out;
  }

 private:
  static void* DeviceMalloc(size_t bytes) {
    void* p = nullptr;
    if (cudaMalloc(&p, bytes) == cudaSuccess) return p;
    cudaGetLastError();  // the pool reports the failure; clear CUDA's sticky-free error state
    return nullptr;
  }
  static void DeviceFree(void* p) { cudaFree(p); }
  static std::string DeviceName(int ordinal, ComputeDtype compute) {
    cudaDeviceProp prop{};
    RITSU_CUDA_CHECK(cudaGetDeviceProperties(&prop, ordinal));
    return "cuda:" + std::to_string(ordinal) + " " + prop.name + " (" + ComputeDtypeName(compute) + " compute)";
  }

  std::string name_;
  CachingPool pool_;  // after name_ (it keeps a copy for its messages)
  float* scratch_ = nullptr;
};

}  // namespace

Result<std::unique_ptr<TrainDevice>> MakeCudaTrainDevice(int ordinal, size_t max_bytes, ComputeDtype compute) {
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
  return std::unique_ptr<TrainDevice>(new CudaTrainDevice(ordinal, max_bytes, compute));
}

}  // namespace ritsu::train
