// Dense products. Row-major everywhere:
//   gemm:       C[M,N] = alpha * op(A)[M,K] . op(B)[K,N] + beta * C,  op(X) = X or X^T.
//               A is [M,K] (lda >= K) or, transposed, [K,M] (lda >= M); B likewise.
//   linear_fwd: y[M,N] = x[M,K] . W[N,K]^T (+ bias[N]) -- an nn.Linear with HF's weight layout.
// A LoRA adapter is two of these: t = x . A^T ([M,r]); y += scale * t . B^T (gemm, beta = 1).
// Storage (TIn for A/B, TOut for C): (float,float), (bf16,bf16), (bf16,float); accumulation
// in fp32 (cuBLAS/cuBLASLt with CUBLAS_COMPUTE_32F on the GPU; the CPU twin is a blocked fp32
// loop). beta = 0 never reads C (C may hold garbage or NaN).
// cpu:: host pointers, cuda:: device pointers; same signatures. cuda:: uses one cuBLAS(Lt)
// handle per host thread and device, created on first use.
#pragma once

#include <cstdint>

#include "kernels/common/types.h"

namespace ritsu::kernels::cpu {

template <class TIn, class TOut>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
          const TIn* A, int64_t lda, const TIn* B, int64_t ldb, float beta, TOut* C,
          int64_t ldc, Stream s);

// bias is nullable.
template <class TIn, class TOut>
void linear_fwd(const TIn* x, const TIn* w, const TIn* bias, TOut* y, int64_t M, int64_t N,
                int64_t K, Stream s);

}  // namespace ritsu::kernels::cpu

namespace ritsu::kernels::cuda {

template <class TIn, class TOut>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
          const TIn* A, int64_t lda, const TIn* B, int64_t ldb, float beta, TOut* C,
          int64_t ldc, Stream s);
template <class TIn, class TOut>
void linear_fwd(const TIn* x, const TIn* w, const TIn* bias, TOut* y, int64_t M, int64_t N,
                int64_t K, Stream s);

}  // namespace ritsu::kernels::cuda
