// Naive float64 references for the kernel registry tests: the plainest loop that states each
// op's math, written independently of the twins (no shared helpers beyond the NF4 code table
// and the dynamic map, which are data, not logic).
#pragma once

#include <cstdint>
#include <vector>

namespace ritsu::kernels::ref {

using Vec = std::vector<double>;

Vec rms_norm(const Vec& x, const Vec& w, int64_t rows, int64_t dim, double eps, Vec* rstd);
void rope(Vec& x, const std::vector<int32_t>& pos, int64_t n_tokens, int64_t n_heads,
          int64_t head_dim, int64_t token_stride, double theta);
// Full score matrix per sequence and head, causal aligned to the end. lse: [n_heads, total_q].
Vec attention(const Vec& q, const Vec& k, const Vec& v, const std::vector<int32_t>& cu_q,
              const std::vector<int32_t>& cu_k, int64_t n_heads, int64_t n_kv_heads,
              int64_t head_dim, int64_t q_stride, int64_t kv_stride, double scale, Vec* lse);
Vec swiglu(const Vec& gate, const Vec& up);
// C = alpha * op(A) op(B) + beta * C, all dense row-major.
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const Vec& A,
          int64_t lda, const Vec& B, int64_t ldb, double beta, Vec& C, int64_t ldc);
// Loss per row and dlogits (scaled), label < 0 ignored.
void cross_entropy(const Vec& logits, const std::vector<int32_t>& labels, int64_t rows,
                   int64_t vocab, double grad_scale, Vec* loss, Vec* dlogits);

// NF4 quantization by brute-force nearest level (argmin |x - level|).
struct Nf4 {
  std::vector<uint8_t> codes;     // one 4-bit code per element (unpacked)
  std::vector<double> absmax;     // fp64 absmax per 64-block before double quantization
  std::vector<uint8_t> absmax_q;  // nearest dynamic-map index per block
  std::vector<double> absmax_scale;
  double offset = 0;
};
Nf4 nf4_quantize(const Vec& w);
// Dequantized weight from the reference state (absmax after its 8-bit round trip).
Vec nf4_dequantize(const Nf4& q);

// Relative Frobenius error ||got - want|| / ||want||; +inf if got has a NaN/inf.
double rel_error(const Vec& got, const Vec& want);

}  // namespace ritsu::kernels::ref
