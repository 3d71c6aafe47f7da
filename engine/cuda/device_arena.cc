#include "engine/cuda/device_arena.h"

#include <cuda_runtime_api.h>

#include <cctype>
#include <cmath>
#include <cstdio>

namespace ritsu::engine::cuda {

RawAllocator CudaRawAllocator() {
  RawAllocator r;
  r.alloc = [](void** p, size_t bytes) {
    if (cudaMalloc(p, bytes) == cudaSuccess) return true;
    cudaGetLastError();  // clear the error so later calls do not report it
    return false;
  };
  r.free = [](void* p) { cudaFree(p); };
  r.sync = [] { cudaDeviceSynchronize(); };
  r.describe_free = [] {
    size_t free_b = 0, total_b = 0;
    if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) {
      cudaGetLastError();
      return std::string("device memory state unknown");
    }
    return FormatBytes(free_b) + " free of " + FormatBytes(total_b) + " on the device";
  };
  return r;
}

DeviceArena::~DeviceArena() {
  ReleaseCached();
  for (auto& [p, size] : live_) raw_.free(p);  // buffers outliving the backend: best effort
}

size_t DeviceArena::RoundUp(size_t bytes) {
  if (bytes == 0) bytes = 1;
  constexpr size_t kSmall = 512, kLarge = size_t(128) << 10, kSplit = size_t(1) << 20;
  if (bytes <= kSplit) return (bytes + kSmall - 1) / kSmall * kSmall;
  return (bytes + kLarge - 1) / kLarge * kLarge;
}

Result<void*> DeviceArena::Allocate(size_t bytes) {
  size_t size = RoundUp(bytes);
  // Reuse the smallest cached block that fits with at most 1/8 waste (prefill steps of
  // different lengths then share blocks instead of each caching their own).
  auto it = free_.lower_bound(size);
  void* p = nullptr;
  if (it != free_.end() && it->first <= size + size / 8) {
    size = it->first;
    p = it->second;
    free_.erase(it);
  } else {
    if (cap_ && reserved_ + size > cap_) ReleaseCached();
    if (cap_ && reserved_ + size > cap_) {
      return Status::FailedPrecondition(
          "GPU memory cap exceeded: allocating " + FormatBytes(size) + " with " +
          FormatBytes(in_use_) + " in use would pass --max-gpu-memory " + FormatBytes(cap_) +
          " (needs at least " + FormatBytes(in_use_ + size) + ")");
    }
    bool ok = raw_.alloc(&p, size);
    if (!ok) {
      ReleaseCached();
      ok = raw_.alloc(&p, size);
    }
    if (!ok) {
      return Status::Unavailable("device allocation of " + FormatBytes(size) + " failed with " +
                                 FormatBytes(in_use_) + " in use by ritsu; " + raw_.describe_free());
    }
    reserved_ += size;
  }
  live_[p] = size;
  in_use_ += size;
  if (in_use_ > peak_) peak_ = in_use_;
  return p;
}

void DeviceArena::Free(void* p) {
  auto it = live_.find(p);
  if (it == live_.end()) return;
  in_use_ -= it->second;
  free_.emplace(it->second, p);
  live_.erase(it);
}

void DeviceArena::ReleaseCached() {
  if (free_.empty()) return;
  raw_.sync();  // cached blocks may still be read by queued work
  for (auto& [size, p] : free_) {
    raw_.free(p);
    reserved_ -= size;
  }
  free_.clear();
}

Result<size_t> ParseMemorySize(const std::string& text, const std::string& flag) {
  const auto bad = [&] {
    return Status::InvalidArgument(flag + " " + text +
                                   ": expected a size such as 10G, 10GiB, 512M or a byte count");
  };
  if (text.empty()) return bad();
  size_t pos = 0;
  double value = 0;
  try {
    value = std::stod(text, &pos);
  } catch (...) {
    return bad();
  }
  std::string unit = text.substr(pos);
  for (auto& c : unit) c = char(std::tolower(static_cast<unsigned char>(c)));
  double mult = 1;
  if (unit.empty() || unit == "b") mult = 1;
  else if (unit == "k" || unit == "kb" || unit == "kib") mult = 1024.0;
  else if (unit == "m" || unit == "mb" || unit == "mib") mult = 1024.0 * 1024;
  else if (unit == "g" || unit == "gb" || unit == "gib") mult = 1024.0 * 1024 * 1024;
  else if (unit == "t" || unit == "tb" || unit == "tib") mult = 1024.0 * 1024 * 1024 * 1024;
  else return bad();
  if (!(value > 0) || !std::isfinite(value)) return bad();
  return size_t(value * mult);
}

std::string FormatBytes(size_t bytes) {
  char buf[64];
  if (bytes >= (size_t(1) << 30)) std::snprintf(buf, sizeof buf, "%.2f GiB", double(bytes) / double(size_t(1) << 30));
  else if (bytes >= (size_t(1) << 20)) std::snprintf(buf, sizeof buf, "%.1f MiB", double(bytes) / double(size_t(1) << 20));
  else std::snprintf(buf, sizeof buf, "%zu B", bytes);
  return buf;
}

}  // namespace ritsu::engine::cuda
