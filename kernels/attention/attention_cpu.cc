// CPU twins of the attention kernels: per query row, scores against the visible keys, a
// max-shifted softmax in fp32, the weighted sum of values. Holds one row of scores at a time
// (O(Lk) memory), never the [Lq, Lk] matrix.
#include "kernels/attention/attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace ritsu::kernels::cpu {
namespace {

// Attention of one query vector over keys/values [0, n_keys) at k_base + j*k_step.
// Writes out[0..head_dim) and returns the log-sum-exp of the scaled scores.
template <class T>
float attend_row(const T* q, const T* k_base, const T* v_base, int64_t k_step, int64_t n_keys,
                 int64_t head_dim, float scale, std::vector<float>& scores,
                 std::vector<float>& acc, T* out) {
  scores.resize(n_keys);
  float mx = -std::numeric_limits<float>::infinity();
  for (int64_t j = 0; j < n_keys; ++j) {
    const T* kj = k_base + j * k_step;
    float dot = 0.0f;
    for (int64_t d = 0; d < head_dim; ++d) dot += to_float(q[d]) * to_float(kj[d]);
    scores[j] = dot * scale;
    mx = std::max(mx, scores[j]);
  }
  acc.assign(head_dim, 0.0f);
  float sum = 0.0f;
  for (int64_t j = 0; j < n_keys; ++j) {
    float p = std::exp(scores[j] - mx);
    sum += p;
    const T* vj = v_base + j * k_step;
    for (int64_t d = 0; d < head_dim; ++d) acc[d] += p * to_float(vj[d]);
  }
  float inv = n_keys > 0 ? 1.0f / sum : 0.0f;
  for (int64_t d = 0; d < head_dim; ++d) out[d] = from_float<T>(acc[d] * inv);
  return n_keys > 0 ? mx + std::log(sum) : -std::numeric_limits<float>::infinity();
}

}  // namespace

template <class T>
void flash_attention_fwd(const T* q, const T* k, const T* v, T* out, float* lse,
                         const int32_t* cu_seqlens_q, const int32_t* cu_seqlens_k, int64_t batch,
                         int64_t, int64_t n_heads, int64_t n_kv_heads, int64_t head_dim,
                         int64_t q_stride, int64_t kv_stride, float scale, Stream) {
  const int64_t group = n_heads / n_kv_heads;
  const int64_t total_q = cu_seqlens_q[batch];
  std::vector<float> scores, acc;
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t q0 = cu_seqlens_q[b], lq = cu_seqlens_q[b + 1] - q0;
    const int64_t k0 = cu_seqlens_k[b], lk = cu_seqlens_k[b + 1] - k0;
    for (int64_t i = 0; i < lq; ++i) {
      const int64_t visible = std::clamp<int64_t>(i + (lk - lq) + 1, 0, lk);
      for (int64_t h = 0; h < n_heads; ++h) {
        const int64_t kvh = h / group;
        float l = attend_row(q + (q0 + i) * q_stride + h * head_dim,
                             k + k0 * kv_stride + kvh * head_dim,
                             v + k0 * kv_stride + kvh * head_dim, kv_stride, visible, head_dim,
                             scale, scores, acc, out + ((q0 + i) * n_heads + h) * head_dim);
        if (lse) lse[h * total_q + q0 + i] = l;
      }
    }
  }
}

template <class T>
void flash_attention_bwd(const T* q, const T* k, const T* v, const T* out, const float* lse,
                         const T* dout, T* dq, float* dk, float* dv,
                         const int32_t* cu_seqlens_q, const int32_t* cu_seqlens_k, int64_t batch,
                         int64_t, int64_t n_heads, int64_t n_kv_heads, int64_t head_dim,
                         int64_t q_stride, int64_t kv_stride, float scale, Stream) {
  const int64_t group = n_heads / n_kv_heads;
  const int64_t total_q = cu_seqlens_q[batch];
  const int64_t total_k = cu_seqlens_k[batch];
  std::fill(dk, dk + total_k * n_kv_heads * head_dim, 0.0f);
  std::fill(dv, dv + total_k * n_kv_heads * head_dim, 0.0f);
  std::vector<float> dqrow(head_dim);
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t q0 = cu_seqlens_q[b], lq = cu_seqlens_q[b + 1] - q0;
    const int64_t k0 = cu_seqlens_k[b], lk = cu_seqlens_k[b + 1] - k0;
    for (int64_t i = 0; i < lq; ++i) {
      const int64_t visible = std::clamp<int64_t>(i + (lk - lq) + 1, 0, lk);
      for (int64_t h = 0; h < n_heads; ++h) {
        const int64_t kvh = h / group;
        const int64_t row = (q0 + i) * n_heads + h;
        const T* qi = q + (q0 + i) * q_stride + h * head_dim;
        const T* doi = dout + row * head_dim;
        const T* oi = out + row * head_dim;
        float delta = 0.0f;  // D = dO . O = sum_j p_j (dO . v_j)
        for (int64_t d = 0; d < head_dim; ++d) delta += to_float(doi[d]) * to_float(oi[d]);
        const float l = lse[h * total_q + q0 + i];
        std::fill(dqrow.begin(), dqrow.end(), 0.0f);
        for (int64_t j = 0; j < visible; ++j) {
          const T* kj = k + (k0 + j) * kv_stride + kvh * head_dim;
          const T* vj = v + (k0 + j) * kv_stride + kvh * head_dim;
          float s = 0.0f, dp = 0.0f;
          for (int64_t d = 0; d < head_dim; ++d) {
            s += to_float(qi[d]) * to_float(kj[d]);
            dp += to_float(doi[d]) * to_float(vj[d]);
          }
          const float p = std::exp(s * scale - l);
          const float ds = p * (dp - delta) * scale;
          float* dkj = dk + ((k0 + j) * n_kv_heads + kvh) * head_dim;
          float* dvj = dv + ((k0 + j) * n_kv_heads + kvh) * head_dim;
          for (int64_t d = 0; d < head_dim; ++d) {
            dqrow[d] += ds * to_float(kj[d]);
            dkj[d] += ds * to_float(qi[d]);
            dvj[d] += p * to_float(doi[d]);
          }
        }
        for (int64_t d = 0; d < head_dim; ++d) dq[row * head_dim + d] = from_float<T>(dqrow[d]);
      }
    }
  }
}

template <class T>
void kv_cache_write(const T* k, const T* v, int64_t kv_stride, T* k_cache, T* v_cache,
                    const int32_t* slots, const int32_t* positions, int64_t n_tokens,
                    int64_t n_kv_heads, int64_t head_dim, int64_t max_seq, Stream) {
  const int64_t row = n_kv_heads * head_dim;
  for (int64_t t = 0; t < n_tokens; ++t) {
    if (positions[t] < 0 || positions[t] >= max_seq || slots[t] < 0) continue;
    const int64_t dst = (int64_t(slots[t]) * max_seq + positions[t]) * row;
    std::copy(k + t * kv_stride, k + t * kv_stride + row, k_cache + dst);
    std::copy(v + t * kv_stride, v + t * kv_stride + row, v_cache + dst);
  }
}

template <class T>
void decode_attention_fwd(const T* q, const T* k_cache, const T* v_cache, T* out,
                          const int32_t* slots, const int32_t* seq_lens, int64_t batch,
                          int64_t n_heads, int64_t n_kv_heads, int64_t head_dim,
                          int64_t q_stride, int64_t max_seq, float scale, Stream) {
  const int64_t group = n_heads / n_kv_heads;
  const int64_t row = n_kv_heads * head_dim;
  std::vector<float> scores, acc;
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t slot = slots ? slots[b] : b;
    const int64_t len = std::clamp<int64_t>(seq_lens[b], 0, max_seq);
    for (int64_t h = 0; h < n_heads; ++h) {
      const int64_t kvh = h / group;
      const int64_t base = slot * max_seq * row + kvh * head_dim;
      attend_row(q + b * q_stride + h * head_dim, k_cache + base, v_cache + base, row, len,
                 head_dim, scale, scores, acc, out + (b * n_heads + h) * head_dim);
    }
  }
}

#define INSTANTIATE(T)                                                                         \
  template void flash_attention_fwd<T>(const T*, const T*, const T*, T*, float*,               \
                                       const int32_t*, const int32_t*, int64_t, int64_t,       \
                                       int64_t, int64_t, int64_t, int64_t, int64_t, float,     \
                                       Stream);                                                \
  template void flash_attention_bwd<T>(const T*, const T*, const T*, const T*, const float*,   \
                                       const T*, T*, float*, float*, const int32_t*,           \
                                       const int32_t*, int64_t, int64_t, int64_t, int64_t,     \
                                       int64_t, int64_t, int64_t, float, Stream);              \
  template void kv_cache_write<T>(const T*, const T*, int64_t, T*, T*, const int32_t*,         \
                                  const int32_t*, int64_t, int64_t, int64_t, int64_t, Stream); \
  template void decode_attention_fwd<T>(const T*, const T*, const T*, T*, const int32_t*,      \
                                        const int32_t*, int64_t, int64_t, int64_t, int64_t,    \
                                        int64_t, int64_t, float, Stream);
INSTANTIATE(float)
INSTANTIATE(bf16)
#undef INSTANTIATE

}  // namespace ritsu::kernels::cpu
