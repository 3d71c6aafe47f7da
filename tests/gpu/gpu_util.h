// Small host-side helpers for the GPU kernel registry and the kernel benchmarks: RAII device
// buffers poisoned with NaN bytes on allocation (so an element a kernel forgot to write fails
// the comparison), host<->device copies, random data, relative error, CUDA-event timing.
#pragma once

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/common/cuda_check.h"
#include "kernels/common/types.h"

namespace ritsu::gpu_test {

template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t n) : n_(n) {
    if (n_ == 0) return;
    RITSU_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&p_), n_ * sizeof(T)));
    poison();
  }
  explicit DeviceBuffer(const std::vector<T>& host) : DeviceBuffer(host.size()) { upload(host); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : p_(o.p_), n_(o.n_) { o.p_ = nullptr; o.n_ = 0; }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(n_, o.n_);
    return *this;
  }
  ~DeviceBuffer() {
    if (p_) cudaFree(p_);
  }
  // 0xFF bytes: NaN for float and bf16, 255 for bytes, -1 for ints.
  void poison() { RITSU_CUDA_CHECK(cudaMemset(p_, 0xFF, n_ * sizeof(T))); }
  void upload(const std::vector<T>& host) {
    RITSU_CUDA_CHECK(cudaMemcpy(p_, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice));
  }
  std::vector<T> download() const {
    std::vector<T> host(n_);
    RITSU_CUDA_CHECK(cudaDeviceSynchronize());
    RITSU_CUDA_CHECK(cudaMemcpy(host.data(), p_, n_ * sizeof(T), cudaMemcpyDeviceToHost));
    return host;
  }
  T* get() const { return p_; }
  size_t size() const { return n_; }

 private:
  T* p_ = nullptr;
  size_t n_ = 0;
};

inline std::vector<double> random_doubles(std::mt19937_64& rng, size_t n, double lo, double hi) {
  std::uniform_real_distribution<double> d(lo, hi);
  std::vector<double> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

template <class T>
std::vector<T> random_vec(std::mt19937_64& rng, size_t n, double lo = -1.0, double hi = 1.0) {
  std::vector<T> out(n);
  std::uniform_real_distribution<double> d(lo, hi);
  for (auto& x : out) x = from_float<T>(float(d(rng)));
  return out;
}

// ||got - want|| / ||want|| over the whole vectors; +inf if got has any NaN/inf.
template <class A, class B>
double rel_error(const std::vector<A>& got, const std::vector<B>& want) {
  if (got.size() != want.size()) return INFINITY;
  double num = 0, den = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double g = double(to_float(got[i])), w = double(to_float(want[i]));
    if (!std::isfinite(g)) return INFINITY;
    num += (g - w) * (g - w);
    den += w * w;
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

// Median milliseconds of `reps` runs of fn() on the default stream, after 3 warm-ups.
template <class F>
double time_ms(F&& fn, int reps = 20) {
  cudaEvent_t a, b;
  RITSU_CUDA_CHECK(cudaEventCreate(&a));
  RITSU_CUDA_CHECK(cudaEventCreate(&b));
  for (int i = 0; i < 3; ++i) fn();
  std::vector<float> ms(reps);
  for (int i = 0; i < reps; ++i) {
    RITSU_CUDA_CHECK(cudaEventRecord(a));
    fn();
    RITSU_CUDA_CHECK(cudaEventRecord(b));
    RITSU_CUDA_CHECK(cudaEventSynchronize(b));
    RITSU_CUDA_CHECK(cudaEventElapsedTime(&ms[i], a, b));
  }
  RITSU_CUDA_CHECK(cudaEventDestroy(a));
  RITSU_CUDA_CHECK(cudaEventDestroy(b));
  std::sort(ms.begin(), ms.end());
  return ms[reps / 2];
}

}  // namespace ritsu::gpu_test
