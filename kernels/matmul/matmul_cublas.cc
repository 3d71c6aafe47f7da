// Dense GEMM on cuBLAS (host code, g++). Row-major C = op(A) op(B) is computed as the
// column-major product C^T = op(B)^T op(A)^T, i.e. cuBLAS is called with the operands swapped
// and the same transpose flags. bf16 inputs run on tensor cores with fp32 accumulation
// (CUBLAS_COMPUTE_32F); fp32 inputs use CUBLAS_COMPUTE_32F without TF32, so the fp32 path
// stays an fp32-exact reference for the tests and the trainer's fp32 LoRA products.
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <type_traits>
#include <unordered_map>

#include "kernels/common/cuda_check.h"
#include "kernels/matmul/bias.h"
#include "kernels/matmul/matmul.h"

namespace ritsu::kernels::cuda {
namespace {

using cuda_detail::stream;

// One handle per (host thread, device), created on first use and kept for the process.
cublasHandle_t handle_for_current_device() {
  thread_local std::unordered_map<int, cublasHandle_t> handles;
  int device = 0;
  RITSU_CUDA_CHECK(cudaGetDevice(&device));
  auto it = handles.find(device);
  if (it != handles.end()) return it->second;
  cublasHandle_t h = nullptr;
  RITSU_CUBLAS_CHECK(cublasCreate(&h));
  handles.emplace(device, h);
  return h;
}

template <class T>
constexpr cudaDataType_t data_type() {
  return std::is_same_v<T, float> ? CUDA_R_32F : CUDA_R_16BF;
}

}  // namespace

template <class TIn, class TOut>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
          const TIn* A, int64_t lda, const TIn* B, int64_t ldb, float beta, TOut* C,
          int64_t ldc, Stream s) {
  if (M <= 0 || N <= 0) return;
  RITSU_KERNEL_REQUIRE(M <= INT32_MAX && N <= INT32_MAX && K <= INT32_MAX);
  cublasHandle_t h = handle_for_current_device();
  RITSU_CUBLAS_CHECK(cublasSetStream(h, stream(s)));
  const cublasOperation_t op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  RITSU_CUBLAS_CHECK(cublasGemmEx(h, op_b, op_a, int(N), int(M), int(K), &alpha, B,
                                  data_type<TIn>(), int(ldb), A, data_type<TIn>(), int(lda),
                                  &beta, C, data_type<TOut>(), int(ldc), CUBLAS_COMPUTE_32F,
                                  CUBLAS_GEMM_DEFAULT));
}

template <class TIn, class TOut>
void linear_fwd(const TIn* x, const TIn* w, const TIn* bias, TOut* y, int64_t M, int64_t N,
                int64_t K, Stream s) {
  gemm<TIn, TOut>(false, true, M, N, K, 1.0f, x, K, w, K, 0.0f, y, N, s);
  if (bias) cuda_detail::add_row_bias(y, bias, M, N, s);
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

}  // namespace ritsu::kernels::cuda
