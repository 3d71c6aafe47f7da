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

// ---- Wide decode kernel (head_dim 64 or 128): the engine's path.
// Why: the kernel above walks its keys one at a time, each a dependent chain of load, 5-step
// shuffle reduction and exp (131 us per layer at context 1024 on an H200, 0.8% of the
// bandwidth). Here 8 lanes share one key (lane part p holds dims [p*DPL, p*DPL+DPL), one or two
// 16-byte loads per row), so a warp works on 4 keys at once and kKeyRounds*4 keys per step with
// all their K and V loads in flight together; a dot product needs 3 shuffles instead of 5 per
// key. Each K/V row is used for up to kHeadsPerPass query heads of the GQA group, so a K/V byte
// is fetched once per pass (one pass for groups <= 4: every Qwen3 size up to 8B). Each 8-lane
// subgroup keeps its own online-softmax state per head; at the end the block merges the
// states of all subgroups of all warps in shared memory and writes the output (one split) or
// the split's (acc, max, sum) partial as the kernel above does.
constexpr int kWideWarps = 4;
constexpr int kHeadsPerPass = 4;
constexpr int kKeyRounds = 2;        // keys per subgroup per step
constexpr int kKeysPerWarpStep = 4 * kKeyRounds;

template <int DPL>
__device__ __forceinline__ void load_dims(const float* p, float (&o)[DPL]) {
#pragma unroll
  for (int i = 0; i < DPL / 4; ++i) {
    const float4 v = __ldg(reinterpret_cast<const float4*>(p) + i);
    o[4 * i] = v.x; o[4 * i + 1] = v.y; o[4 * i + 2] = v.z; o[4 * i + 3] = v.w;
  }
}
template <int DPL>
__device__ __forceinline__ void load_dims(const bf16* p, float (&o)[DPL]) {
#pragma unroll
  for (int i = 0; i < DPL / 8; ++i) {
    const uint4 v = __ldg(reinterpret_cast<const uint4*>(p) + i);
    const uint32_t w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      o[8 * i + 2 * j] = __uint_as_float(w[j] << 16);  // the lower address is the low half
      o[8 * i + 2 * j + 1] = __uint_as_float(w[j] & 0xffff0000u);
    }
  }
}

template <class T, int DPL>
__global__ void __launch_bounds__(32 * kWideWarps)
    decode_wide_kernel(const T* __restrict__ q, const T* __restrict__ k_cache,
                       const T* __restrict__ v_cache, T* __restrict__ out, float* __restrict__ part,
                       const int32_t* __restrict__ slots, const int32_t* __restrict__ seq_lens,
                       int64_t n_heads, int64_t n_kv_heads, int64_t q_stride, int64_t max_seq,
                       float scale, int64_t chunk) {
  constexpr int kHeadDim = 8 * DPL;
  constexpr int kStates = kWideWarps * 4;  // one softmax state per 8-lane subgroup
  __shared__ float sm_m[kStates][kHeadsPerPass], sm_l[kStates][kHeadsPerPass];
  __shared__ float sm_acc[kStates][kHeadsPerPass][kHeadDim];
  const int64_t split = blockIdx.x, kvh = blockIdx.y, b = blockIdx.z;
  const int64_t n_splits = gridDim.x;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int sub = lane >> 3, dpart = lane & 7;
  const int state = warp * 4 + sub;
  int64_t len = seq_lens[b];
  len = len < 0 ? 0 : (len > max_seq ? max_seq : len);
  const int64_t slot = slots ? slots[b] : b;
  const int64_t j0 = split * chunk;
  const int64_t j1 = (j0 + chunk < len) ? j0 + chunk : len;
  const int group = int(n_heads / n_kv_heads);
  const int64_t row = n_kv_heads * kHeadDim;
  const T* kbase = k_cache + slot * max_seq * row + kvh * kHeadDim + dpart * DPL;
  const T* vbase = v_cache + slot * max_seq * row + kvh * kHeadDim + dpart * DPL;

  for (int g0 = 0; g0 < group; g0 += kHeadsPerPass) {
    const int heads = group - g0 < kHeadsPerPass ? group - g0 : kHeadsPerPass;
    float qv[kHeadsPerPass][DPL], acc[kHeadsPerPass][DPL], m[kHeadsPerPass], l[kHeadsPerPass];
#pragma unroll
    for (int gi = 0; gi < kHeadsPerPass; ++gi) {
      m[gi] = -INFINITY;
      l[gi] = 0.0f;
      const int64_t h = kvh * group + g0 + gi;
#pragma unroll
      for (int e = 0; e < DPL; ++e) {
        acc[gi][e] = 0.0f;
        qv[gi][e] = gi < heads ? load_f(&q[b * q_stride + h * kHeadDim + dpart * DPL + e]) * scale : 0.0f;
      }
    }
    for (int64_t base = j0 + int64_t(warp) * kKeysPerWarpStep; base < j1;
         base += int64_t(kWideWarps) * kKeysPerWarpStep) {
      float kr[kKeyRounds][DPL], vr[kKeyRounds][DPL];
      bool valid[kKeyRounds];
#pragma unroll
      for (int r = 0; r < kKeyRounds; ++r) {
        const int64_t j = base + r * 4 + sub;
        valid[r] = j < j1;
        if (valid[r]) {
          load_dims<DPL>(kbase + j * row, kr[r]);
          load_dims<DPL>(vbase + j * row, vr[r]);
        } else {
#pragma unroll
          for (int e = 0; e < DPL; ++e) kr[r][e] = vr[r][e] = 0.0f;
        }
      }
#pragma unroll
      for (int gi = 0; gi < kHeadsPerPass; ++gi) {
        if (gi >= heads) break;
        float sc[kKeyRounds], mx = m[gi];
#pragma unroll
        for (int r = 0; r < kKeyRounds; ++r) {
          float dot = 0.0f;
#pragma unroll
          for (int e = 0; e < DPL; ++e) dot = fmaf(qv[gi][e], kr[r][e], dot);
          // the 8 lanes of a subgroup: xor 1, 2, 4 stays inside it
          dot += __shfl_xor_sync(0xffffffffu, dot, 1);
          dot += __shfl_xor_sync(0xffffffffu, dot, 2);
          dot += __shfl_xor_sync(0xffffffffu, dot, 4);
          sc[r] = valid[r] ? dot : -INFINITY;
          mx = fmaxf(mx, sc[r]);
        }
        if (mx == -INFINITY) continue;  // this subgroup has seen no key yet
        const float corr = expf(m[gi] - mx);  // 0 when m was -inf
        float psum = 0.0f;
#pragma unroll
        for (int e = 0; e < DPL; ++e) acc[gi][e] *= corr;
#pragma unroll
        for (int r = 0; r < kKeyRounds; ++r) {
          const float p = valid[r] ? expf(sc[r] - mx) : 0.0f;
          psum += p;
#pragma unroll
          for (int e = 0; e < DPL; ++e) acc[gi][e] = fmaf(p, vr[r][e], acc[gi][e]);
        }
        l[gi] = l[gi] * corr + psum;
        m[gi] = mx;
      }
    }
#pragma unroll
    for (int gi = 0; gi < kHeadsPerPass; ++gi) {
      if (gi >= heads) break;
      if (dpart == 0) {
        sm_m[state][gi] = m[gi];
        sm_l[state][gi] = l[gi];
      }
#pragma unroll
      for (int e = 0; e < DPL; ++e) sm_acc[state][gi][dpart * DPL + e] = acc[gi][e];
    }
    __syncthreads();
    for (int idx = threadIdx.x; idx < heads * kHeadDim; idx += blockDim.x) {
      const int gi = idx / kHeadDim, d = idx % kHeadDim;
      float mx = -INFINITY;
#pragma unroll
      for (int st = 0; st < kStates; ++st) mx = fmaxf(mx, sm_m[st][gi]);
      float total = 0.0f, o = 0.0f;
      if (mx > -INFINITY) {
#pragma unroll
        for (int st = 0; st < kStates; ++st) {
          const float f = expf(sm_m[st][gi] - mx);  // 0 for a subgroup that saw no key
          total += sm_l[st][gi] * f;
          o += sm_acc[st][gi][d] * f;
        }
      }
      const int64_t h = kvh * group + g0 + gi;
      if (n_splits == 1) {
        store_f(&out[(b * n_heads + h) * kHeadDim + d], total > 0.0f ? o / total : 0.0f);
      } else {
        float* pp = part + ((b * n_heads + h) * n_splits + split) * (kHeadDim + 2);
        pp[d] = o;
        if (d == 0) {
          pp[kHeadDim] = mx;  // -inf for an empty chunk, as the combine kernel expects
          pp[kHeadDim + 1] = total;
        }
      }
    }
    __syncthreads();  // the shared states are rewritten by the next pass
  }
}

// Launches the wide kernel when the shape allows it; false otherwise (caller uses decode_kernel).
template <class T>
bool launch_wide(dim3 grid, const T* q, const T* k_cache, const T* v_cache, T* out, float* part,
                 const int32_t* slots, const int32_t* seq_lens, int64_t n_heads, int64_t n_kv_heads,
                 int64_t head_dim, int64_t q_stride, int64_t max_seq, float scale, int64_t chunk,
                 Stream s) {
  if ((reinterpret_cast<uintptr_t>(k_cache) | reinterpret_cast<uintptr_t>(v_cache)) % 16 != 0) return false;
  if (head_dim == 128) {
    decode_wide_kernel<T, 16><<<grid, 32 * kWideWarps, 0, stream(s)>>>(
        q, k_cache, v_cache, out, part, slots, seq_lens, n_heads, n_kv_heads, q_stride, max_seq, scale, chunk);
  } else if (head_dim == 64) {
    decode_wide_kernel<T, 8><<<grid, 32 * kWideWarps, 0, stream(s)>>>(
        q, k_cache, v_cache, out, part, slots, seq_lens, n_heads, n_kv_heads, q_stride, max_seq, scale, chunk);
  } else {
    return false;
  }
  RITSU_CUDA_CHECK_LAUNCH();
  return true;
}

// Positions per split of decode_attention_fwd_split. 64 was measured too (H200, 2026-11-22,
// kernels_bench): slower at every shape (batch 1 context 1024: 27.6 us against 21.9 us in a
// graph; batch 8 context 1024: 95 against 50 us), because decode_combine_kernel then merges 64
// partials per head, one dependent global load per partial. The workspace size below follows
// this constant, so callers sizing it with decode_attention_workspace_bytes are unaffected.
constexpr int64_t kSplitChunk = kDecodeChunk;

int64_t n_splits_for(int64_t max_seq) { return (max_seq + kSplitChunk - 1) / kSplitChunk; }

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
  if (launch_wide(grid, q, k_cache, v_cache, out, static_cast<float*>(nullptr), slots, seq_lens, n_heads,
                  n_kv_heads, head_dim, q_stride, max_seq, scale, max_seq, s))
    return;
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
  if (!launch_wide(grid, q, k_cache, v_cache, out, workspace, slots, seq_lens, n_heads, n_kv_heads,
                   head_dim, q_stride, max_seq, scale, kSplitChunk, s)) {
    decode_kernel<<<grid, 32 * kWarps, 0, stream(s)>>>(q, k_cache, v_cache, out, workspace, slots,
                                                       seq_lens, n_heads, n_kv_heads, head_dim,
                                                       q_stride, max_seq, scale, kSplitChunk);
    RITSU_CUDA_CHECK_LAUNCH();
  }
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
