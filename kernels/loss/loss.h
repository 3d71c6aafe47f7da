// Cross-entropy for the trainer, one chunk of rows at a time, so the fused chunked loss never
// holds [tokens x vocab] logits: the trainer loops over row chunks of the final hidden states,
//   logits_chunk = h_chunk . W_lm^T        (matmul/gemm, fp32 or bf16 out)
//   cross_entropy_fwd_bwd(logits_chunk)    (loss per row + dlogits in place)
//   dh_chunk     = dlogits_chunk . W_lm    (gemm)
// and the chunk buffer is reused.
// cpu:: host pointers, cuda:: device pointers; same signatures.
#pragma once

#include <cstdint>

#include "kernels/common/types.h"

namespace ritsu::kernels::cpu {

// logits: [rows, vocab] with leading dimension ld (T = float or bf16). labels: [rows]; a label
// < 0 (HF's -100) ignores the row (loss 0, gradient 0).
// loss: [rows] fp32, loss[r] = logsumexp(logits[r]) - logits[r][label[r]].
// dlogits (nullable; may alias logits, same ld): (softmax(logits[r]) - onehot(label)) * grad_scale.
template <class T>
void cross_entropy_fwd_bwd(const T* logits, int64_t ld, const int32_t* labels, float* loss,
                           T* dlogits, int64_t rows, int64_t vocab, float grad_scale, Stream s);

}  // namespace ritsu::kernels::cpu

namespace ritsu::kernels::cuda {

template <class T>
void cross_entropy_fwd_bwd(const T* logits, int64_t ld, const int32_t* labels, float* loss,
                           T* dlogits, int64_t rows, int64_t vocab, float grad_scale, Stream s);

}  // namespace ritsu::kernels::cuda
