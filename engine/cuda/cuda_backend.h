// The CUDA backend of ritsu-engine: bf16 activations and KV cache, fp32 accumulation, dense
// weights in bf16 or NF4 (bitsandbytes layout), kernels::cuda for every op and cuBLAS for the
// dense products, all work on one CUDA stream, device memory from a capped caching arena
// (device_arena.h). The model code (engine/model) runs on it unchanged through Backend.
//
// MakeCudaBackend(int) declared in engine/model/backend.h is this factory with no cap; the
// options form adds --max-gpu-memory.
#pragma once

#include <cstddef>
#include <memory>

#include "common/status.h"
#include "engine/model/backend.h"

namespace ritsu::engine {

struct CudaBackendOptions {
  int device = 0;               // ordinal after CUDA_VISIBLE_DEVICES
  size_t max_memory_bytes = 0;  // hard cap on device memory the backend reserves; 0 = none
};

// Fails with a clear message when no usable GPU is present or the device cannot be set up.
Result<std::unique_ptr<Backend>> MakeCudaBackend(const CudaBackendOptions& options);

}  // namespace ritsu::engine
