// Causal grouped-query attention for Qwen: n_heads query heads share n_kv_heads key/value heads
// (query head h reads kv head h / (n_heads / n_kv_heads), as HF's repeat_kv does).
//
// Prefill (flash_attention_fwd): a variable-length batch packed along the token axis, sequence
// b owning query tokens [cu_seqlens_q[b], cu_seqlens_q[b+1]) and key tokens
// [cu_seqlens_k[b], cu_seqlens_k[b+1]). Lk >= Lq is allowed (a cached prefix): query i of the
// sequence sees keys j <= i + (Lk - Lq) (causal mask aligned to the end, as flash-attn does).
// Online softmax in fp32; the full score matrix is never stored.
//
// Decode (decode_attention_fwd): one new query token per row, attending to its KV cache slot.
// KV cache layout, per layer: k_cache/v_cache [n_slots, max_seq, n_kv_heads, head_dim].
//
// Token layouts: q row t = q + t*q_stride, heads contiguous ([n_heads, head_dim] per token);
// the strides let q/k/v be views into one fused qkv projection output.
// T = float or bf16. cpu:: host pointers, cuda:: device pointers (cu_seqlens, seq_lens, slots
// included); same signatures. scale is usually 1/sqrt(head_dim).
#pragma once

#include <cstdint>

#include "kernels/common/types.h"

namespace ritsu::kernels::cpu {

// q: [total_q, n_heads, head_dim] (stride q_stride); k, v: [total_k, n_kv_heads, head_dim]
// (stride kv_stride); out: [total_q, n_heads * head_dim] contiguous.
// lse (nullable): [n_heads, total_q] fp32 log-sum-exp of the scaled scores, for the backward.
// max_seqlen_q: the largest Lq (sizes the CUDA grid).
template <class T>
void flash_attention_fwd(const T* q, const T* k, const T* v, T* out, float* lse,
                         const int32_t* cu_seqlens_q, const int32_t* cu_seqlens_k, int64_t batch,
                         int64_t max_seqlen_q, int64_t n_heads, int64_t n_kv_heads,
                         int64_t head_dim, int64_t q_stride, int64_t kv_stride, float scale,
                         Stream s);

// Backward of flash_attention_fwd from its out and lse (recomputes the probabilities).
// dq: [total_q, n_heads, head_dim] contiguous; dk, dv: [total_k, n_kv_heads, head_dim]
// contiguous, fp32 so GQA heads accumulate without rounding. All three are overwritten.
template <class T>
void flash_attention_bwd(const T* q, const T* k, const T* v, const T* out, const float* lse,
                         const T* dout, T* dq, float* dk, float* dv,
                         const int32_t* cu_seqlens_q, const int32_t* cu_seqlens_k, int64_t batch,
                         int64_t max_seqlen_q, int64_t n_heads, int64_t n_kv_heads,
                         int64_t head_dim, int64_t q_stride, int64_t kv_stride, float scale,
                         Stream s);

// Writes token t's k/v (stride kv_stride) into slot slots[t] at position positions[t] of the
// cache. Tokens with positions outside [0, max_seq) are skipped (caller bug, never a write
// out of bounds).
template <class T>
void kv_cache_write(const T* k, const T* v, int64_t kv_stride, T* k_cache, T* v_cache,
                    const int32_t* slots, const int32_t* positions, int64_t n_tokens,
                    int64_t n_kv_heads, int64_t head_dim, int64_t max_seq, Stream s);

// q: [batch, n_heads, head_dim] (stride q_stride); row b attends to cache positions
// [0, seq_lens[b]) of slot slots[b] (slots nullable: slot b). out: [batch, n_heads*head_dim].
// seq_lens[b] must be in [1, max_seq].
template <class T>
void decode_attention_fwd(const T* q, const T* k_cache, const T* v_cache, T* out,
                          const int32_t* slots, const int32_t* seq_lens, int64_t batch,
                          int64_t n_heads, int64_t n_kv_heads, int64_t head_dim,
                          int64_t q_stride, int64_t max_seq, float scale, Stream s);

}  // namespace ritsu::kernels::cpu

namespace ritsu::kernels::cuda {

template <class T>
void flash_attention_fwd(const T* q, const T* k, const T* v, T* out, float* lse,
                         const int32_t* cu_seqlens_q, const int32_t* cu_seqlens_k, int64_t batch,
                         int64_t max_seqlen_q, int64_t n_heads, int64_t n_kv_heads,
                         int64_t head_dim, int64_t q_stride, int64_t kv_stride, float scale,
                         Stream s);
template <class T>
void flash_attention_bwd(const T* q, const T* k, const T* v, const T* out, const float* lse,
                         const T* dout, T* dq, float* dk, float* dv,
                         const int32_t* cu_seqlens_q, const int32_t* cu_seqlens_k, int64_t batch,
                         int64_t max_seqlen_q, int64_t n_heads, int64_t n_kv_heads,
                         int64_t head_dim, int64_t q_stride, int64_t kv_stride, float scale,
                         Stream s);
template <class T>
void kv_cache_write(const T* k, const T* v, int64_t kv_stride, T* k_cache, T* v_cache,
                    const int32_t* slots, const int32_t* positions, int64_t n_tokens,
                    int64_t n_kv_heads, int64_t head_dim, int64_t max_seq, Stream s);
template <class T>
void decode_attention_fwd(const T* q, const T* k_cache, const T* v_cache, T* out,
                          const int32_t* slots, const int32_t* seq_lens, int64_t batch,
                          int64_t n_heads, int64_t n_kv_heads, int64_t head_dim,
                          int64_t q_stride, int64_t max_seq, float scale, Stream s);

// GPU only: the backward's kernels, for the GPU tests and the benchmark, which run each of them
// on one device (flash_attention_bwd above is flash_attention_bwd_with(kAuto, ...)).
enum class FlashBwdKernel {
  kAuto,        // kMma where the device's shared memory allows, else kMmaLowSmem, else kSimple;
                // kSimple for fp32, head sizes other than 64/128 and unaligned views
  kMma,         // tensor cores, Q and dO tiles double-buffered (112 KiB at head_dim 128)
  kMmaLowSmem,  // the same with one dO buffer (95 KiB at head_dim 128: fits sm_86/sm_89's 99)
  kSimple,      // one warp per (query, head), exact fp32 arithmetic; any dtype and head size
};
// Forcing kMma or kMmaLowSmem where it does not apply (not bf16, head_dim not 64/128, views not
// 16-byte aligned, or more shared memory than the device allows) is a contract failure (abort
// with a message), never a silent fallback.
template <class T>
void flash_attention_bwd_with(FlashBwdKernel kernel, const T* q, const T* k, const T* v,
                              const T* out, const float* lse, const T* dout, T* dq, float* dk,
                              float* dv, const int32_t* cu_seqlens_q, const int32_t* cu_seqlens_k,
                              int64_t batch, int64_t max_seqlen_q, int64_t n_heads,
                              int64_t n_kv_heads, int64_t head_dim, int64_t q_stride,
                              int64_t kv_stride, float scale, Stream s);

// GPU only: split-K decode ("flash decoding") for long caches at small batch. Each sequence's
// positions are cut into chunks of kDecodeChunk handled by separate blocks; partial softmax
// states go to `workspace` (device, decode_attention_workspace_bytes) and are merged by a
// second kernel. Same result as decode_attention_fwd up to fp32 reassociation.
inline constexpr int64_t kDecodeChunk = 256;
size_t decode_attention_workspace_bytes(int64_t batch, int64_t n_heads, int64_t head_dim,
                                        int64_t max_seq);
template <class T>
void decode_attention_fwd_split(const T* q, const T* k_cache, const T* v_cache, T* out,
                                const int32_t* slots, const int32_t* seq_lens, int64_t batch,
                                int64_t n_heads, int64_t n_kv_heads, int64_t head_dim,
                                int64_t q_stride, int64_t max_seq, float scale, float* workspace,
                                Stream s);

}  // namespace ritsu::kernels::cuda
