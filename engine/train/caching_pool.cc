#include "engine/train/caching_pool.h"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "engine/train/train_device.h"

namespace ritsu::train {

std::string HumanBytes(size_t b) {
  char buf[32];
  if (b < (1ull << 30)) {
    std::snprintf(buf, sizeof buf, "%.2f MiB", static_cast<double>(b) / (1ull << 20));
  } else {
    std::snprintf(buf, sizeof buf, "%.2f GiB", static_cast<double>(b) / (1ull << 30));
  }
  return buf;
}

CachingPool::CachingPool(AllocateFn allocate, ReleaseFn release, size_t cap, std::string device_name)
    : allocate_(std::move(allocate)), release_(std::move(release)), cap_(cap), device_name_(std::move(device_name)) {}

CachingPool::~CachingPool() { ReleaseCache(); }

std::shared_ptr<void> CachingPool::Alloc(size_t bytes) {
  const size_t size = (std::max<size_t>(bytes, 1) + kGranule - 1) / kGranule * kGranule;
  void* p = nullptr;
  auto it = free_.find(size);
  if (it != free_.end() && !it->second.empty()) {
    p = it->second.back();
    it->second.pop_back();
  } else {
    if (cap_ > 0 && reserved_ + size > cap_) ReleaseCache();
    if (cap_ > 0 && reserved_ + size > cap_) {
      throw TrainOutOfMemory("--max-gpu-memory " + HumanBytes(cap_) + " exceeded: a request of " + HumanBytes(bytes) +
                             " with " + HumanBytes(live_) + " in use needs at least " + HumanBytes(live_ + size));
    }
    p = allocate_(size);
    if (p == nullptr) {
      ReleaseCache();
      p = allocate_(size);
    }
    if (p == nullptr) {
      throw TrainOutOfMemory("allocating " + HumanBytes(bytes) + " failed with " + HumanBytes(live_) + " in use on " +
                             device_name_);
    }
    reserved_ += size;
    peak_reserved_ = std::max(peak_reserved_, reserved_);
  }
  live_ += size;
  peak_ = std::max(peak_, live_);
  return std::shared_ptr<void>(p, [this, size](void* q) {
    live_ -= size;
    free_[size].push_back(q);
  });
}

void CachingPool::ReleaseCache() {
  for (auto& [size, blocks] : free_) {
    for (void* b : blocks) release_(b);
    reserved_ -= size * blocks.size();
    blocks.clear();
  }
}

}  // namespace ritsu::train
