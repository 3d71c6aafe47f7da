// Blocked fp32 GEMM for the CPU backend. Both operands are first packed into fp32 rows that
// are contiguous along K (op(A) as [M,K], op(B)^T as [N,K]); then 2x4 blocks of C are dot
// products vectorized along K with 4-lane partial sums (so the summation order differs from
// a plain loop by reassociation only). Columns of C are walked in panels of op(B)^T rows
// small enough to stay in cache while all rows of A stream past them. When B is already an fp32 [N,K] matrix (the nn.Linear case) it
// is used in place, so the lm_head of a model is never copied.
#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "kernels/matmul/matmul.h"

namespace ritsu::kernels::cpu {
namespace {

// Rows of op(X) as fp32, contiguous along K: out[r*K + k] = op(X)[r][k].
// op(X) = X ([R,K], ld >= K) or X^T (X stored [K,R], ld >= R).
template <class T>
void pack_rows(const T* x, int64_t ld, bool trans, int64_t R, int64_t K, std::vector<float>& out) {
  out.resize(size_t(R * K));
  if (!trans) {
    for (int64_t r = 0; r < R; ++r)
      for (int64_t k = 0; k < K; ++k) out[r * K + k] = to_float(x[r * ld + k]);
  } else {
    for (int64_t k = 0; k < K; ++k)
      for (int64_t r = 0; r < R; ++r) out[r * K + k] = to_float(x[k * ld + r]);
  }
}

// GCC/Clang vector extension: 4 fp32 lanes (SSE2 on the x86-64 baseline), no intrinsics.
typedef float v4f __attribute__((vector_size(16)));

inline v4f load4(const float* p) {
  v4f v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline float hsum(v4f v) { return (v[0] + v[1]) + (v[2] + v[3]); }

// c[i][j] = dot(a_i, b_j) over K for 2 rows of A and 4 rows of B^T (8 accumulators + 6
// loads per step fit the 16 SSE registers); the K tail is added in scalar.
inline void dot_2x4(const float* a0, const float* a1, const float* const b[4], int64_t K,
                    float c[2][4]) {
  v4f acc[2][4] = {};
  int64_t k = 0;
  for (; k + 4 <= K; k += 4) {
    const v4f x0 = load4(a0 + k), x1 = load4(a1 + k);
    for (int j = 0; j < 4; ++j) {
      const v4f y = load4(b[j] + k);
      acc[0][j] += x0 * y;
      acc[1][j] += x1 * y;
    }
  }
  for (int j = 0; j < 4; ++j) {
    c[0][j] = hsum(acc[0][j]);
    c[1][j] = hsum(acc[1][j]);
    for (int64_t t = k; t < K; ++t) {
      c[0][j] += a0[t] * b[j][t];
      c[1][j] += a1[t] * b[j][t];
    }
  }
}

}  // namespace

template <class TIn, class TOut>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
          const TIn* A, int64_t lda, const TIn* B, int64_t ldb, float beta, TOut* C,
          int64_t ldc, Stream) {
  if (M <= 0 || N <= 0) return;
  std::vector<float> a_rows, b_rows;
  pack_rows(A, lda, trans_a, M, K, a_rows);
  const float* bt;  // op(B)^T as [N,K] rows with leading dimension ldbt
  int64_t ldbt = K;
  if constexpr (std::is_same_v<TIn, float>) {
    if (trans_b) {
      bt = B;
      ldbt = ldb;
    } else {
      pack_rows(B, ldb, true, N, K, b_rows);
      bt = b_rows.data();
    }
  } else {
    pack_rows(B, ldb, !trans_b, N, K, b_rows);
    bt = b_rows.data();
  }
  // Panels of op(B)^T rows of about 256 KiB stay in cache while all rows of A pass by; inside,
  // 2x4 blocks of C (rows past M or N are clamped to the last valid row and not stored).
  const int64_t panel = std::max<int64_t>(4, (256 * 1024 / 4) / std::max<int64_t>(K, 1));
  for (int64_t n0 = 0; n0 < N; n0 += panel) {
    const int64_t n1 = std::min(N, n0 + panel);
    for (int64_t m = 0; m < M; m += 2) {
      const float* a0 = a_rows.data() + m * K;
      const float* a1 = a_rows.data() + std::min(m + 1, M - 1) * K;
      for (int64_t n = n0; n < n1; n += 4) {
        const float* b[4];
        for (int j = 0; j < 4; ++j) b[j] = bt + std::min(n + j, n1 - 1) * ldbt;
        float c[2][4];
        dot_2x4(a0, a1, b, K, c);
        for (int i = 0; i < 2 && m + i < M; ++i) {
          TOut* cr = C + (m + i) * ldc;
          for (int j = 0; j < 4 && n + j < n1; ++j) {
            float v = alpha * c[i][j];
            if (beta != 0.0f) v += beta * to_float(cr[n + j]);
            cr[n + j] = from_float<TOut>(v);
          }
        }
      }
    }
  }
}

template <class TIn, class TOut>
void linear_fwd(const TIn* x, const TIn* w, const TIn* bias, TOut* y, int64_t M, int64_t N,
                int64_t K, Stream s) {
  gemm<TIn, TOut>(false, true, M, N, K, 1.0f, x, K, w, K, 0.0f, y, N, s);
  if (!bias) return;
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n)
      y[m * N + n] = from_float<TOut>(to_float(y[m * N + n]) + to_float(bias[n]));
}

#define INSTANTIATE(TI, TO)                                                                  \
  template void gemm<TI, TO>(bool, bool, int64_t, int64_t, int64_t, float, const TI*, int64_t, \
                             const TI*, int64_t, float, TO*, int64_t, Stream);                 \
  template void linear_fwd<TI, TO>(const TI*, const TI*, const TI*, TO*, int64_t, int64_t,     \
                                   int64_t, Stream);
INSTANTIATE(float, float)
INSTANTIATE(bf16, bf16)
INSTANTIATE(bf16, float)
#undef INSTANTIATE

}  // namespace ritsu::kernels::cpu
