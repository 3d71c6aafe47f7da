// NF4 weights in the bitsandbytes layout (bnb.functional.quantize_4bit with quant_type="nf4",
// blocksize=64, compress_statistics=True), so a weight quantized here dequantizes to what
// bitsandbytes would give:
//   - the weight is flattened row-major ([out, in] as HF stores it) and cut into blocks of 64;
//   - each block's absmax = max |w|; w / absmax is mapped to the nearest of the 16 NF4 code
//     values (kNf4Code; decision thresholds = midpoints, compared with '>' as bnb does);
//   - two codes per byte, element 2i in the HIGH nibble, 2i+1 in the low nibble;
//   - double quantization of the fp32 absmax vector: offset = mean(absmax); (absmax - offset)
//     is quantized blockwise with blocks of 256 to 8-bit indices into the signed dynamic map
//     (bnb create_dynamic_map(signed=True), nf4_absmax_code()), with an fp32 absmax per
//     256-block (absmax_scale). Dequantized: absmax = code[q] * absmax_scale[b / 256] + offset.
// Elements past n in the last 64-block are treated as zero (bnb pads the same way).
#pragma once

#include <cstdint>

#include "kernels/common/types.h"

namespace ritsu::kernels {

inline constexpr int64_t kNf4BlockSize = 64;
inline constexpr int64_t kNf4AbsmaxBlockSize = 256;

// The 16 NF4 levels (normal-float quantiles, QLoRA paper / bnb), index = the 4-bit code.
#define RITSU_NF4_LEVELS                                                                      \
  -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,                  \
      -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,             \
      0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f, \
      0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f
inline constexpr float kNf4Code[16] = {RITSU_NF4_LEVELS};

// Host table of the 256-entry signed dynamic map used for the absmax (sorted ascending).
// Upload it once to the device for cuda:: calls.
const float* nf4_absmax_code();

// A quantized [rows, cols] weight. Pointers are host memory for cpu::, device for cuda::.
struct Nf4Tensor {
  uint8_t* packed = nullptr;           // [packed_bytes()]
  uint8_t* absmax_q = nullptr;         // [blocks()] 8-bit indices into absmax_code
  float* absmax_scale = nullptr;       // [absmax_blocks()] fp32 absmax of each 256 block
  const float* absmax_code = nullptr;  // [256] nf4_absmax_code() (a device copy for cuda::)
  float absmax_offset = 0.0f;          // mean of the per-64-block absmax (host value)
  int64_t rows = 0;
  int64_t cols = 0;

  int64_t numel() const { return rows * cols; }
  int64_t blocks() const { return (numel() + kNf4BlockSize - 1) / kNf4BlockSize; }
  int64_t absmax_blocks() const { return (blocks() + kNf4AbsmaxBlockSize - 1) / kNf4AbsmaxBlockSize; }
  int64_t packed_bytes() const { return (numel() + 1) / 2; }
  // Total bytes of one quantized tensor (packed + absmax_q + absmax_scale), for planning.
  int64_t storage_bytes() const { return packed_bytes() + blocks() + 4 * absmax_blocks(); }
};

}  // namespace ritsu::kernels

namespace ritsu::kernels::cpu {

// Quantizes w ([out->rows, out->cols], T = float or bf16) into the buffers of *out (allocated
// by the caller with the sizes above; out->absmax_code set) and fills out->absmax_offset.
// workspace: out->blocks() floats (the fp32 absmax before double quantization).
template <class T>
void nf4_quantize(const T* w, Nf4Tensor* out, float* workspace, Stream s);

// Dequantizes rows [row_begin, row_begin + row_count) of w into out ([row_count, w.cols],
// T = float or bf16): the reused tile of the prefill path (dequantize, then gemm).
template <class T>
void nf4_dequantize(const Nf4Tensor& w, int64_t row_begin, int64_t row_count, T* out,
                    Stream s);

// Fused dequant-GEMV for decode: y[b, n] = sum_k x[b, k] * W[n, k] for b < batch (1..8),
// fp32 accumulation, W never materialized. x: [batch, cols], y: [batch, rows] contiguous.
// Requires w.cols % 64 == 0 (every Qwen projection satisfies it).
template <class T>
void nf4_gemv(const Nf4Tensor& w, const T* x, T* y, int64_t batch, Stream s);

}  // namespace ritsu::kernels::cpu

namespace ritsu::kernels::cuda {

// Same contracts as cpu::. cuda::nf4_quantize synchronizes the stream once (the mean of the
// absmax comes back to the host for out->absmax_offset): a load-time call, not a hot path.
template <class T>
void nf4_quantize(const T* w, Nf4Tensor* out, float* workspace, Stream s);
template <class T>
void nf4_dequantize(const Nf4Tensor& w, int64_t row_begin, int64_t row_count, T* out,
                    Stream s);
template <class T>
void nf4_gemv(const Nf4Tensor& w, const T* x, T* y, int64_t batch, Stream s);

}  // namespace ritsu::kernels::cuda
