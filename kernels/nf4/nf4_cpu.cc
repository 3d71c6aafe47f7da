#include <algorithm>
#include <cmath>

#include "kernels/nf4/nf4.h"
#include "kernels/nf4/nf4_codec.h"

namespace ritsu::kernels::cpu {
namespace {

// The fp32 absmax of 64-block b after double-quantization round trip.
float block_absmax(const Nf4Tensor& w, int64_t b) {
  return w.absmax_code[w.absmax_q[b]] * w.absmax_scale[b / kNf4AbsmaxBlockSize] + w.absmax_offset;
}

}  // namespace

template <class T>
void nf4_quantize(const T* w, Nf4Tensor* out, float* workspace, Stream) {
  const int64_t n = out->numel(), blocks = out->blocks();
  // 1. absmax per 64-block, and the NF4 codes of the block.
  std::fill(out->packed, out->packed + out->packed_bytes(), uint8_t(0));
  double absmax_sum = 0.0;
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t e0 = b * kNf4BlockSize, e1 = std::min(n, e0 + kNf4BlockSize);
    float amax = 0.0f;
    for (int64_t e = e0; e < e1; ++e) amax = std::max(amax, std::fabs(to_float(w[e])));
    workspace[b] = amax;
    absmax_sum += amax;
    const float inv = amax > 0.0f ? 1.0f / amax : 0.0f;
    for (int64_t e = e0; e < e1; ++e) {
      const uint8_t q = nf4_encode(to_float(w[e]) * inv);
      out->packed[e >> 1] |= (e & 1) ? q : uint8_t(q << 4);
    }
  }
  // 2. Double quantization of the absmax vector around its mean.
  const float offset = float(absmax_sum / double(blocks));
  out->absmax_offset = offset;
  for (int64_t a = 0; a < out->absmax_blocks(); ++a) {
    const int64_t b0 = a * kNf4AbsmaxBlockSize;
    const int64_t b1 = std::min(blocks, b0 + kNf4AbsmaxBlockSize);
    float amax2 = 0.0f;
    for (int64_t b = b0; b < b1; ++b) amax2 = std::max(amax2, std::fabs(workspace[b] - offset));
    out->absmax_scale[a] = amax2;
    const float inv = amax2 > 0.0f ? 1.0f / amax2 : 0.0f;
    for (int64_t b = b0; b < b1; ++b)
      out->absmax_q[b] = dynamic_map_encode(out->absmax_code, (workspace[b] - offset) * inv);
  }
}

template <class T>
void nf4_dequantize(const Nf4Tensor& w, int64_t row_begin, int64_t row_count, T* out, Stream) {
  const int64_t e0 = row_begin * w.cols, e1 = (row_begin + row_count) * w.cols;
  for (int64_t e = e0; e < e1; ++e) {
    const float amax = block_absmax(w, e / kNf4BlockSize);
    out[e - e0] = from_float<T>(kNf4Code[nf4_nibble(w.packed, e)] * amax);
  }
}

template <class T>
void nf4_gemv(const Nf4Tensor& w, const T* x, T* y, int64_t batch, Stream) {
  const int64_t K = w.cols;
  float vals[kNf4BlockSize];
  float acc[8];
  for (int64_t n = 0; n < w.rows; ++n) {
    for (int64_t b0 = 0; b0 < batch; b0 += 8) {
      const int64_t nb = std::min<int64_t>(8, batch - b0);
      std::fill(acc, acc + 8, 0.0f);
      for (int64_t k0 = 0; k0 < K; k0 += kNf4BlockSize) {
        const int64_t e0 = n * K + k0;
        const float amax = block_absmax(w, e0 / kNf4BlockSize);
        for (int64_t j = 0; j < kNf4BlockSize; ++j)
          vals[j] = kNf4Code[nf4_nibble(w.packed, e0 + j)] * amax;
        for (int64_t b = 0; b < nb; ++b) {
          const T* xb = x + (b0 + b) * K + k0;
          float s = 0.0f;
          for (int64_t j = 0; j < kNf4BlockSize; ++j) s += vals[j] * to_float(xb[j]);
          acc[b] += s;
        }
      }
      for (int64_t b = 0; b < nb; ++b) y[(b0 + b) * w.rows + n] = from_float<T>(acc[b]);
    }
  }
}

#define INSTANTIATE(T)                                                                     \
  template void nf4_quantize<T>(const T*, Nf4Tensor*, float*, Stream);                     \
  template void nf4_dequantize<T>(const Nf4Tensor&, int64_t, int64_t, T*, Stream);         \
  template void nf4_gemv<T>(const Nf4Tensor&, const T*, T*, int64_t, Stream);
INSTANTIATE(float)
INSTANTIATE(bf16)
#undef INSTANTIATE

}  // namespace ritsu::kernels::cpu
