// SwiGLU of the Qwen MLP: out = silu(gate) * up, silu(g) = g / (1 + exp(-g)), in fp32.
// gate and up may be two buffers or two halves of one fused [rows, 2*dim] gate_up buffer:
// row r of gate is gate + r*ld_in, of up is up + r*ld_in; out row r is out + r*ld_out.
// T = float or bf16. cpu:: host pointers, cuda:: device pointers; same signatures.
#pragma once

#include <cstdint>

#include "kernels/common/types.h"

namespace ritsu::kernels::cpu {

template <class T>
void swiglu_fwd(const T* gate, const T* up, T* out, int64_t rows, int64_t dim, int64_t ld_in,
                int64_t ld_out, Stream s);

// dgate = dout * up * silu'(gate), dup = dout * silu(gate); same strides as the forward
// (dgate/dup use ld_in, dout uses ld_out).
template <class T>
void swiglu_bwd(const T* gate, const T* up, const T* dout, T* dgate, T* dup, int64_t rows,
                int64_t dim, int64_t ld_in, int64_t ld_out, Stream s);

}  // namespace ritsu::kernels::cpu

namespace ritsu::kernels::cuda {

template <class T>
void swiglu_fwd(const T* gate, const T* up, T* out, int64_t rows, int64_t dim, int64_t ld_in,
                int64_t ld_out, Stream s);
template <class T>
void swiglu_bwd(const T* gate, const T* up, const T* dout, T* dgate, T* dup, int64_t rows,
                int64_t dim, int64_t ld_in, int64_t ld_out, Stream s);

}  // namespace ritsu::kernels::cuda
