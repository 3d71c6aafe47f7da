// The CUDA trainer's device memory pool, written against two callbacks so that its rules run
// (and are tested) on the host too: a training step allocates and frees the same buffer sizes
// block after block, and cudaFree synchronizes the device, so freed blocks are kept in per-size
// free lists and handed out again. Sizes are rounded up to 512 bytes. `cap` (> 0) bounds the
// bytes RESERVED from the device (live + cached): a request past it first returns the cache to
// the device, then fails with TrainOutOfMemory naming the cap, the request and what is in use.
// One thread (the replica's).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace ritsu::train {

class CachingPool {
 public:
  // allocate(bytes) returns memory or nullptr when the device is full; release(p) returns it.
  using AllocateFn = std::function<void*(size_t)>;
  using ReleaseFn = std::function<void(void*)>;
  CachingPool(AllocateFn allocate, ReleaseFn release, size_t cap, std::string device_name);
  ~CachingPool();  // returns the cache; every block handed out must have been freed first
  CachingPool(const CachingPool&) = delete;
  CachingPool& operator=(const CachingPool&) = delete;

  // A block of at least `bytes`; freeing the shared_ptr puts it back in the cache.
  std::shared_ptr<void> Alloc(size_t bytes);
  // Returns every cached block to the device.
  void ReleaseCache();

  size_t live_bytes() const { return live_; }
  size_t reserved_bytes() const { return reserved_; }
  size_t peak_bytes() const { return peak_; }
  size_t peak_reserved_bytes() const { return peak_reserved_; }

  static constexpr size_t kGranule = 512;

 private:
  AllocateFn allocate_;
  ReleaseFn release_;
  size_t cap_;
  std::string device_name_;
  size_t live_ = 0, peak_ = 0, reserved_ = 0, peak_reserved_ = 0;
  std::unordered_map<size_t, std::vector<void*>> free_;
};

// "12.00 MiB" below 1 GiB, else "1.50 GiB" (small caps in tests would all print as 0.00 GiB).
std::string HumanBytes(size_t bytes);

}  // namespace ritsu::train
