// TrainDevice on one CUDA GPU: kernels::cuda (cuBLAS gemm, flash attention fwd/bwd, ...) on
// the legacy default stream. Built only with CUDA (engine/train/CMakeLists.txt).
//
// Memory: a caching allocator. A training step allocates and frees the same buffer sizes
// block after block; cudaFree synchronizes the device, so freed blocks are kept in per-size
// free lists and handed out again (one stream: a block freed by the host is reused only by
// work queued after the work that used it). --max-gpu-memory caps the bytes RESERVED from the
// device (live + cached): a request past the cap first drops the cache, then stops the run with
// the request, the bytes in use and the cap (TrainOutOfMemory, caught by the trainer and
// reported as an error, never a crash).
#include <cuda_runtime_api.h>

#include <cstdio>
#include <unordered_map>
#include <vector>

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

class CudaTrainDevice final : public KernelTrainDevice {
 public:
  CudaTrainDevice(int ordinal, size_t cap, ComputeDtype compute) : KernelTrainDevice(compute), cap_(cap) {
    cudaDeviceProp prop{};
    RITSU_CUDA_CHECK(cudaGetDeviceProperties(&prop, ordinal));
    name_ = "cuda:" + std::to_string(ordinal) + " " + prop.name + " (" + ComputeDtypeName(compute) + " compute)";
    RITSU_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&scratch_), sizeof(float)));
  }
  ~CudaTrainDevice() override {
    ReleaseCache();
    cudaFree(scratch_);
  }
  bool is_cuda() const override { return true; }
  std::string name() const override { return name_; }

  std::shared_ptr<void> Alloc(size_t bytes) override {
    const size_t size = (std::max<size_t>(bytes, 1) + kGranule - 1) / kGranule * kGranule;
    void* p = nullptr;
    auto it = free_.find(size);
    if (it != free_.end() && !it->second.empty()) {
      p = it->second.back();
      it->second.pop_back();
      cached_ -= size;
    } else {
      if (cap_ > 0 && reserved_ + size > cap_) ReleaseCache();
      if (cap_ > 0 && reserved_ + size > cap_) {
        throw TrainOutOfMemory("--max-gpu-memory " + GiB(cap_) + " exceeded: a request of " + GiB(bytes) + " with " +
                               GiB(live_) + " in use needs at least " + GiB(live_ + size));
      }
      if (cudaMalloc(&p, size) != cudaSuccess) {
        cudaGetLastError();
        ReleaseCache();
        if (cudaMalloc(&p, size) != cudaSuccess) {
          cudaGetLastError();
          throw TrainOutOfMemory("cudaMalloc of " + GiB(bytes) + " failed with " + GiB(live_) + " in use on " + name_);
        }
      }
      reserved_ += size;
      peak_reserved_ = std::max(peak_reserved_, reserved_);
    }
    live_ += size;
    peak_ = std::max(peak_, live_);
    return std::shared_ptr<void>(p, [this, size](void* q) {
      live_ -= size;
      cached_ += size;
      free_[size].push_back(q);
    });
  }
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
  size_t peak_bytes() const override { return peak_; }
  size_t peak_reserved_bytes() const override { return peak_reserved_; }
  void Trim() override { ReleaseCache(); }
  double SumSquares(const float* x, int64_t n) override {
    k::sum_squares(x, n, scratch_, nullptr);
    float out = 0;
    Download(&out, scratch_, sizeof(float));
    return out;
  }

 private:
  static constexpr size_t kGranule = 512;
  // Returns every cached block to the device (synchronizes: cudaFree waits for the device).
  void ReleaseCache() {
    for (auto& [size, blocks] : free_) {
      for (void* b : blocks) cudaFree(b);
      reserved_ -= size * blocks.size();
      blocks.clear();
    }
    cached_ = 0;
  }

  size_t cap_;
  std::string name_;
  size_t live_ = 0, peak_ = 0, reserved_ = 0, peak_reserved_ = 0, cached_ = 0;
  std::unordered_map<size_t, std::vector<void*>> free_;
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
