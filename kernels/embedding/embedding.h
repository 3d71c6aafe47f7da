// Embedding gather: out[t, :] = table[ids[t], :]. Ids outside [0, vocab) are a caller bug; the
// kernels write zeros for them (never read out of bounds) so the error is visible, not a crash.
// T = float or bf16. cpu:: host pointers, cuda:: device pointers; same signatures.
#pragma once

#include <cstdint>

#include "kernels/common/types.h"

namespace ritsu::kernels::cpu {

// table: [vocab, dim]; ids: [n_tokens]; out: [n_tokens, dim].
template <class T>
void embedding_fwd(const T* table, const int32_t* ids, T* out, int64_t n_tokens, int64_t dim,
                   int64_t vocab, Stream s);

// dtable[ids[t], :] += dout[t, :] in fp32 (for a trainable embedding; QLoRA leaves it frozen).
template <class T>
void embedding_bwd(const T* dout, const int32_t* ids, float* dtable, int64_t n_tokens,
                   int64_t dim, int64_t vocab, Stream s);

}  // namespace ritsu::kernels::cpu

namespace ritsu::kernels::cuda {

template <class T>
void embedding_fwd(const T* table, const int32_t* ids, T* out, int64_t n_tokens, int64_t dim,
                   int64_t vocab, Stream s);
template <class T>
void embedding_bwd(const T* dout, const int32_t* ids, float* dtable, int64_t n_tokens,
                   int64_t dim, int64_t vocab, Stream s);

}  // namespace ritsu::kernels::cuda
