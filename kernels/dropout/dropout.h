// Dropout for the LoRA input (peft's lora_dropout) with a counter-based mask: element i is kept
// when philox_uniform(seed, offset + i) >= p, and kept values are scaled by 1/(1-p). The mask
// is a pure function of (seed, offset + i), so the CPU twin and the GPU drop the same elements
// and the backward recomputes the mask instead of storing it. p = 0 copies x.
// T = float or bf16. cpu:: host pointers, cuda:: device pointers; same signatures.
#pragma once

#include <cstdint>

#include "kernels/common/types.h"

namespace ritsu::kernels::cpu {

// y[i] = keep(i) ? x[i] / (1 - p) : 0 over n elements (y may alias x). p in [0, 1).
template <class T>
void dropout_fwd(const T* x, T* y, int64_t n, float p, uint64_t seed, uint64_t offset, Stream s);

// dx[i] = keep(i) ? dy[i] / (1 - p) : 0 with the forward's (seed, offset); dx may alias dy.
template <class T>
void dropout_bwd(const T* dy, T* dx, int64_t n, float p, uint64_t seed, uint64_t offset, Stream s);

}  // namespace ritsu::kernels::cpu

namespace ritsu::kernels::cuda {

template <class T>
void dropout_fwd(const T* x, T* y, int64_t n, float p, uint64_t seed, uint64_t offset, Stream s);
template <class T>
void dropout_bwd(const T* dy, T* dx, int64_t n, float p, uint64_t seed, uint64_t offset, Stream s);

}  // namespace ritsu::kernels::cuda
