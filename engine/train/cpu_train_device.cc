// TrainDevice on the host: kernels::cpu (the oracle). Memory is malloc'd and counted.
#include <cstdlib>
#include <cstring>

#include "engine/train/train_device.h"
#include "kernels/activation/activation.h"
#include "kernels/attention/attention.h"
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

namespace k = ritsu::kernels::cpu;
#include "engine/train/kernel_train_device.inc"

class CpuTrainDevice final : public KernelTrainDevice {
 public:
  using KernelTrainDevice::KernelTrainDevice;
  bool is_cuda() const override { return false; }
  std::string name() const override { return std::string("cpu (") + ComputeDtypeName(compute()) + " compute)"; }
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
  double SumSquares(const float* x, int64_t n) override {
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += static_cast<double>(x[i]) * x[i];
    return s;
  }

 private:
  size_t live_ = 0, peak_ = 0;
};

}  // namespace

std::unique_ptr<TrainDevice> MakeCpuTrainDevice(ComputeDtype compute) {
  return std::make_unique<CpuTrainDevice>(compute);
}

#if !defined(RITSU_TRAIN_WITH_CUDA)
Result<std::unique_ptr<TrainDevice>> MakeCudaTrainDevice(int, size_t, ComputeDtype) {
  return Status::FailedPrecondition("--device cuda: this ritsu-engine was built without CUDA");
}
#endif

}  // namespace ritsu::train
