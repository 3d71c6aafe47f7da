// Small elementwise ops the model needs between the big kernels: residual add, bias add
// (Qwen2's q/k/v bias), scaled accumulate (LoRA's scale * B(Ax) into y), dtype casts.
// Arithmetic in fp32, one rounding to the output type.
// cpu:: host pointers, cuda:: device pointers; same signatures.
#pragma once

#include <cstdint>

#include "kernels/common/types.h"

namespace ritsu::kernels::cpu {

// out = a + b over n elements; out may alias a or b. T = float or bf16.
template <class T>
void add(const T* a, const T* b, T* out, int64_t n, Stream s);

// x[r, :] += bias[:] for r < rows; x: [rows, dim] with leading dimension ld. T = float or bf16.
template <class T>
void add_bias(T* x, const T* bias, int64_t rows, int64_t dim, int64_t ld, Stream s);

// y = y + alpha * x over n elements. T = float or bf16.
template <class T>
void axpy(const T* x, T* y, float alpha, int64_t n, Stream s);

// out = In -> Out conversion (float <-> bf16, f16 -> float/bf16), round to nearest even.
template <class In, class Out>
void cast(const In* in, Out* out, int64_t n, Stream s);

}  // namespace ritsu::kernels::cpu

namespace ritsu::kernels::cuda {

template <class T>
void add(const T* a, const T* b, T* out, int64_t n, Stream s);
template <class T>
void add_bias(T* x, const T* bias, int64_t rows, int64_t dim, int64_t ld, Stream s);
template <class T>
void axpy(const T* x, T* y, float alpha, int64_t n, Stream s);
template <class In, class Out>
void cast(const In* in, Out* out, int64_t n, Stream s);

}  // namespace ritsu::kernels::cuda
