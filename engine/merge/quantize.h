// Block encoders and decoders for the ggml types ritsu writes into GGUF files.
//
// The byte layouts match ggml's (ggml-common.h block_q8_0 / block_q5_0 / block_q4_K / block_q6_K)
// bit for bit, so llama.cpp and Ollama decode what ritsu encodes. Q8_0 and Q5_0 also choose the
// same codes as ggml's reference quantizer. The k-quant encoders are ritsu's own: they pick
// scales so that every value of a sub-block lies inside the representable range (no clipping),
// which gives the per-element error bound documented at QuantErrorBounds and in docs/merge.md;
// llama.cpp's encoder instead searches scales that minimise a weighted squared error, so the
// codes differ while the format is the same.
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/merge/ggml_types.h"

namespace ritsu::merge {

// Encodes n floats (n a multiple of the type's block size) into RowBytes(t, n) bytes at dst.
void QuantizeRow(GgmlType t, const float* src, int64_t n, uint8_t* dst);

// Decodes n elements of type t from src into dst.
void DequantizeRow(GgmlType t, const uint8_t* src, int64_t n, float* dst);

// Writes into bound[i] the largest |src[i] - Dequantize(Quantize(src))[i]| that QuantizeRow
// guarantees for these source values (computed from the source alone, never from the encoding):
//   F32   0
//   F16   |x|*2^-11 + 2^-25          (half an ulp; 2^-25 covers the subnormal range)
//   BF16  |x|*2^-8 + 2^-134
//   Q8_0  A/254 + A/2048             A = block absmax: half a step of d = A/127, plus 127 steps
//                                    times the fp16 rounding of d (relative 2^-11)
//   Q5_0  A/16 + A/2048              one full step: the value opposite the signed maximum can be
//                                    clamped from code 32 to 31 (ggml's rule), plus d's rounding
//   Q4_K  per 32-value sub-block j: (R_j + dmin)/30 + d/2, with R_j = max_j + max(0, -min_j),
//         dmin <= (largest shift)/63 and d <= ((largest R) + dmin)/15/63, both rounded up to fp16
//   Q6_K  per 16-value sub-block j: a_j/63 + d/2 with a_j the sub-block absmax and
//         d <= (block absmax)/31.5/127 rounded up to fp16
// plus 1e-6 relative and fp16-subnormal absolute slack for float rounding inside the codecs.
void QuantErrorBounds(GgmlType t, const float* src, int64_t n, float* bound);

}  // namespace ritsu::merge
