// Decode attention against the KV cache, and the KV cache write.
// One block per (split, kv head, batch row); its warps take the query heads of the GQA group,
// so a group's K/V rows are fetched once into L1 and read by every head of the group. Each
// warp walks the keys of its chunk with an online softmax in fp32 (lane d holds dims
// d, d+32, ...; one shuffle reduction per key). With one split the block writes the output;
// with several it writes (acc, max, sum) partials that decode_combine_kernel merges.
#include <cmath>

#include "kernels/attention/attention.h"
#include "kernels/common/cuda_common.cuh"

namespace ritsu::kernels::cuda {
namespace {

using namespace cuda_detail;
constexpr int kMaxPerLane = 8;  // head_dim <= 256
constexpr int kWarps = 4;

template <class T>
__global__ void kv_cache_write_kernel(const T* k, const T* v, int64_t kv_stride, T* k_cache,
                                      T* v_cache, const int32_t* slots, const int32_t* positions,
                                      int64_t n_tokens, int64_t row, int64_t max_seq) {
  for (int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; idx < n_tokens * row;
       idx += int64_t(gridDim.x) * blockDim.x) {
    const int64_t t = idx / row, e = idx % row;
    const int64_t pos = positions[t], slot = slots[t];
    if (pos < 0 || pos >= max_seq || slot < 0) continue;
    const int64_t dst = (slot * max_seq + pos) * row + e;
    k_cache[dst] = k[t * kv_stride + e];
    v_cache[dst] = v[t * kv_stride + e];
  }
}

// part layout: [batch, n_heads, n_splits, head_dim + 2] = (unnormalized acc..., max, sum).
template <class T>
__global__ void __launch_bounds__(32 * kWarps)
    decode_kernel(const T* q, const T* k_cache, const T* v_cache, T* out, float* part,
                  const int32_t* slots, const int32_t* seq_lens, int64_t n_heads,
                  int64_t n_kv_heads, int64_t head_dim, int64_t q_stride, int64_t max_seq,
                  float scale, int64_t chunk) {
  const int64_t split = blockIdx.x, kvh = blockIdx.y, b = blockIdx.z;
  const int64_t n_splits = gridDim.x;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  int64_t len = seq_lens[b];
  len = len < 0 ? 0 : (len > max_seq ? max_seq : len);
  const int64_t slot = slots ? slots[b] : b;
  const int64_t j0 = split * chunk;
  const int64_t j1 = (j0 + chunk < len) ? j0 + chunk : len;
  const int64_t group = n_heads / n_kv_heads;
  const int64_t row = n_kv_heads * head_dim;
  const T* kbase = k_cache + slot * max_seq * row + kvh * head_dim;
  const T* vbase = v_cache + slot * max_seq * row + kvh * head_dim;
  for (int64_t g = warp; g < group; g += kWarps) {
    const int64_t h = kvh * group + g;
    float qv[kMaxPerLane], acc[kMaxPerLane];
#pragma unroll
    for (int e = 0; e < kMaxPerLane; ++e) {
      const int64_t d = e * 32 + lane;
      qv[e] = d < head_dim ? load_f(&q[b * q_stride + h * head_dim + d]) * scale : 0.0f;
      acc[e] = 0.0f;
    }
    float m = -INFINITY, l = 0.0f;
    for (int64_t j = j0; j < j1; ++j) {
      const T* kj = kbase + j * row;
      float dot = 0.0f;
#pragma unroll
      for (int e = 0; e < kMaxPerLane; ++e) {
        const int64_t d = e * 32 + lane;
        if (d < head_dim) dot += qv[e] * load_f(&kj[d]);
      }
      dot = warp_sum(dot);
      const float m_new = fmaxf(m, dot);
      const float corr = expf(m - m_new);
      const float p = expf(dot - m_new);
      l = l * corr + p;
      m = m_new;
      const T* vj = vbase + j * row;
#pragma unroll
      for (int e = 0; e < kMaxPerLane; ++e) {
        const int64_t d = e * 32 + lane;
        if (d < head_dim) acc[e] = acc[e] * corr + p * load_f(&vj[d]);
      }
    }
    if (n_splits == 1) {
      const float inv = l > 0.0f ? 1.0f / l : 0.0f;
#pragma unroll
      for (int e = 0; e < kMaxPerLane; ++e) {
        const int64_t d = e * 32 + lane;
        if (d < head_dim) store_f(&out[(b * n_heads + h) * head_dim + d], acc[e] * inv);
      }
    } else {
      float* pp = part + ((b * n_heads + h) * n_splits + split) * (head_dim + 2);
#pragma unroll
      for (int e = 0; e < kMaxPerLane; ++e) {
        const int64_t d = e * 32 + lane;
        if (d < head_dim) pp[d] = acc[e];
      }
      if (lane == 0) {
        pp[head_dim] = m;  // -inf for an empty chunk
        pp[head_dim + 1] = l;
      }
    }
  }
}

template <class T>
__global__ void decode_combine_kernel(const float* part, T* out, int64_t n_heads,
                                      int64_t head_dim, int64_t n_splits) {
  const int64_t h = blockIdx.x, b = blockIdx.y;
  const float* base = part + (b * n_heads + h) * n_splits * (head_dim + 2);
  float mx = -INFINITY;
  for (int64_t s = 0; s < n_splits; ++s) {
    const float* pp = base + s * (head_dim + 2);
    if (pp[head_dim + 1] > 0.0f) mx = fmaxf(mx, pp[head_dim]);
  }
  float total = 0.0f;
  for (int64_t s = 0; s < n_splits; ++s) {
    const float* pp = base + s * (head_dim + 2);
    if (pp[head_dim + 1] > 0.0f) total += pp[head_dim + 1] * expf(pp[head_dim] - mx);
  }
  const float inv = total > 0.0f ? 1.0f / total : 0.0f;
  for (int64_t d = threadIdx.x; d < head_dim; d += blockDim.x) {
    float o = 0.0f;
    for (int64_t s = 0; s < n_splits; ++s) {
      const float* pp = base + s * (head_dim + 2);
      if (pp[head_dim + 1] > 0.0f) o += pp[d] * expf(pp[head_dim] - mx);
    }
    store_f(&out[(b * n_heads + h) * head_dim + d], o * inv);
  }
}

int64_t n_splits_for(int64_t max_seq) { return (max_seq + kDecodeChunk - 1) / kDecodeChunk; }

void check_shape(int64_t n_heads, int64_t n_kv_heads, int64_t head_dim) {
  RITSU_KERNEL_REQUIRE(head_dim > 0 && head_dim <= 32 * kMaxPerLane);
  RITSU_KERNEL_REQUIRE(n_kv_heads > 0 && n_heads % n_kv_heads == 0);
}

}  // namespace

template <class T>
void kv_cache_write(const T* k, const T* v, int64_t kv_stride, T* k_cache, T* v_cache,
                    const int32_t* slots, const int32_t* positions, int64_t n_tokens,
                    int64_t n_kv_heads, int64_t head_dim, int64_t max_seq, Stream s) {
  const int64_t row = n_kv_heads * head_dim;
  if (n_tokens * row <= 0) return;
  kv_cache_write_kernel<<<grid_for(n_tokens * row, 256), 256, 0, stream(s)>>>(
      k, v, kv_stride, k_cache, v_cache, slots, positions, n_tokens, row, max_seq);
  RITSU_CUDA_CHECK_LAUNCH();
}

template <class T>
void decode_attention_fwd(const T* q, const T* k_cache, const T* v_cache, T* out,
                          const int32_t* slots, const int32_t* seq_lens, int64_t batch,
                          int64_t n_heads, int64_t n_kv_heads, int64_t head_dim,
                          int64_t q_stride, int64_t max_seq, float scale, Stream s) {
  if (batch <= 0) return;
  check_shape(n_heads, n_kv_heads, head_dim);
  RITSU_KERNEL_REQUIRE(batch <= 65535);
  dim3 grid(1, unsigned(n_kv_heads), unsigned(batch));
  decode_kernel<<<grid, 32 * kWarps, 0, stream(s)>>>(q, k_cache, v_cache, out, nullptr, slots,
                                                     seq_lens, n_heads, n_kv_heads, head_dim,
                                                     q_stride, max_seq, scale, max_seq);
  RITSU_CUDA_CHECK_LAUNCH();
}

size_t decode_attention_workspace_bytes(int64_t batch, int64_t n_heads, int64_t head_dim,
                                        int64_t max_seq) {
  return size_t(batch * n_heads * n_splits_for(max_seq) * (head_dim + 2)) * sizeof(float);
}

template <class T>
void decode_attention_fwd_split(const T* q, const T* k_cache, const T* v_cache, T* out,
                                const int32_t* slots, const int32_t* seq_lens, int64_t batch,
                                int64_t n_heads, int64_t n_kv_heads, int64_t head_dim,
                                int64_t q_stride, int64_t max_seq, float scale, float* workspace,
                                Stream s) {
  if (batch <= 0) return;
  check_shape(n_heads, n_kv_heads, head_dim);
  RITSU_KERNEL_REQUIRE(batch <= 65535);
  const int64_t splits = n_splits_for(max_seq);
  if (splits == 1) {
    decode_attention_fwd(q, k_cache, v_cache, out, slots, seq_lens, batch, n_heads, n_kv_heads,
                         head_dim, q_stride, max_seq, scale, s);
    return;
  }
  const dim3 grid{unsigned(splits), unsigned(n_kv_heads), unsigned(batch)};
  decode_kernel<<<grid, 32 * kWarps, 0, stream(s)>>>(q, k_cache, v_cache, out, workspace, slots,
                                                     seq_lens, n_heads, n_kv_heads, head_dim,
                                                     q_stride, max_seq, scale, kDecodeChunk);
  RITSU_CUDA_CHECK_LAUNCH();
  decode_combine_kernel<<<dim3(unsigned(n_heads), unsigned(batch)), 128, 0, stream(s)>>>(
      workspace, out, n_heads, head_dim, splits);
  RITSU_CUDA_CHECK_LAUNCH();
}

#define INSTANTIATE(T)                                                                         \
  template void kv_cache_write<T>(const T*, const T*, int64_t, T*, T*, const int32_t*,         \
                                  const int32_t*, int64_t, int64_t, int64_t, int64_t, Stream); \
  template void decode_attention_fwd<T>(const T*, const T*, const T*, T*, const int32_t*,      \
                                        const int32_t*, int64_t, int64_t, int64_t, int64_t,    \
                                        int64_t, int64_t, float, Stream);                      \
  template void decode_attention_fwd_split<T>(const T*, const T*, const T*, T*, const int32_t*, \
                                              const int32_t*, int64_t, int64_t, int64_t,       \
                                              int64_t, int64_t, int64_t, float, float*, Stream);
INSTANTIATE(float)
INSTANTIATE(bf16)
#undef INSTANTIATE

}  // namespace ritsu::kernels::cuda
