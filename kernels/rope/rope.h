// Rotary position embedding exactly as HF transformers applies it to Qwen2/Qwen3 (default
// rope_type, no scaling): inv_freq[i] = 1 / theta^(2i/head_dim) for i < head_dim/2, computed in
// fp32; angle = position * inv_freq[i] in fp32; for the pair (x[i], x[i + head_dim/2]):
//   out[i]          = x[i] * cos - x[i + half] * sin        (rotate_half)
//   out[i + half]   = x[i + half] * cos + x[i] * sin
// Positions are per token, so a batch of prompts of different lengths (packed with cumulative
// offsets, or decode rows at different positions) is one call.
// T = float or bf16. cpu:: host pointers, cuda:: device pointers; same signatures.
#pragma once

#include <cstdint>

#include "kernels/common/types.h"

namespace ritsu::kernels::cpu {

// In place on x: token t, head h starts at x + t*token_stride + h*head_dim (token_stride lets
// q and k be views into a fused qkv buffer; pass n_heads*head_dim when contiguous).
// positions: [n_tokens]. head_dim must be even.
template <class T>
void rope_fwd(T* x, const int32_t* positions, int64_t n_tokens, int64_t n_heads,
              int64_t head_dim, int64_t token_stride, float theta, Stream s);

// Backward: the transpose of the rotation (the same with sin negated), in place on dx.
template <class T>
void rope_bwd(T* dx, const int32_t* positions, int64_t n_tokens, int64_t n_heads,
              int64_t head_dim, int64_t token_stride, float theta, Stream s);

}  // namespace ritsu::kernels::cpu

namespace ritsu::kernels::cuda {

template <class T>
void rope_fwd(T* x, const int32_t* positions, int64_t n_tokens, int64_t n_heads,
              int64_t head_dim, int64_t token_stride, float theta, Stream s);
template <class T>
void rope_bwd(T* dx, const int32_t* positions, int64_t n_tokens, int64_t n_heads,
              int64_t head_dim, int64_t token_stride, float theta, Stream s);

}  // namespace ritsu::kernels::cuda
