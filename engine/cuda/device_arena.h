// Device memory for the CUDA backend: a caching allocator with a hard cap.
//
// Every device byte the backend owns (weights, KV cache, activations, workspaces) comes from
// here. Freed blocks go to a free list keyed by their rounded size and are reused (the
// smallest cached block with at most 1/8 waste), so the per-step Alloc calls of the model
// never reach cudaMalloc/cudaFree (which synchronizes).
// The cap (--max-gpu-memory) bounds the bytes reserved from CUDA (in use + cached): when a
// new block would cross it, the cached blocks are released first; if it still does not fit,
// Allocate fails with a message giving the request, the bytes in use and the cap. Reuse is
// safe without events because the backend issues all work on one stream: a block freed by
// the host is only reused by work enqueued after the work that used it.
// Not counted: the CUDA context and cuBLAS's own workspace (reported by nvidia-smi, not here).
// Thread-safety: one thread at a time (as the Backend).
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace ritsu::engine::cuda {

// Where the arena gets its blocks: cudaMalloc/cudaFree by default; tests pass host memory.
struct RawAllocator {
  std::function<bool(void** p, size_t bytes)> alloc;  // false = out of memory
  std::function<void(void* p)> free;
  std::function<void()> sync;  // waits for queued device work before blocks are released
  std::function<std::string()> describe_free;  // "3.1 GiB free of 80 GiB on the device"
};
RawAllocator CudaRawAllocator();

class DeviceArena {
 public:
  // cap_bytes = 0: no cap beyond the device's memory.
  explicit DeviceArena(size_t cap_bytes, RawAllocator raw = CudaRawAllocator())
      : cap_(cap_bytes), raw_(std::move(raw)) {}
  ~DeviceArena();
  DeviceArena(const DeviceArena&) = delete;
  DeviceArena& operator=(const DeviceArena&) = delete;

  // A block of at least `bytes` (256-byte aligned), or an error naming the sizes.
  Result<void*> Allocate(size_t bytes);
  void Free(void* p);

  size_t in_use_bytes() const { return in_use_; }
  size_t peak_bytes() const { return peak_; }           // high-water mark of in_use_bytes
  size_t reserved_bytes() const { return reserved_; }   // in use + cached
  size_t cap_bytes() const { return cap_; }

  // Block size classes: 512 B steps up to 1 MiB, then 128 KiB steps (at most 128 KiB lost
  // per weight tensor; the activation shapes repeat every step, so they reuse exactly).
  static size_t RoundUp(size_t bytes);

 private:
  void ReleaseCached();

  size_t cap_;
  RawAllocator raw_;
  size_t in_use_ = 0, peak_ = 0, reserved_ = 0;
  std::map<void*, size_t> live_;                   // pointer -> rounded size
  std::multimap<size_t, void*> free_;              // rounded size -> cached block
};

// "10G", "10GiB", "512M", "1.5g", "1073741824" -> bytes (binary units). Errors name the flag.
Result<size_t> ParseMemorySize(const std::string& text, const std::string& flag);

std::string FormatBytes(size_t bytes);

}  // namespace ritsu::engine::cuda
