// Error checks for CUDA runtime and cuBLAS calls in launchers and the CUDA backend. A failed
// call in a kernel launcher is a programming or device error the caller cannot repair, so it
// prints the statement, the error, the function, file and line, and aborts (llm.c's cudaCheck
// habit). Host code that can recover (allocation) checks cudaError_t itself and returns a Status.
// CUDA-only header: include it from .cu files and from host code that links CUDA::cudart.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "kernels/common/types.h"

namespace ritsu::kernels::cuda_detail {

[[noreturn]] void cuda_fail(cudaError_t err, const char* stmt, const char* func, const char* file,
                            int line);
[[noreturn]] void cublas_fail(cublasStatus_t st, const char* stmt, const char* func,
                              const char* file, int line);
[[noreturn]] void contract_fail(const char* what, const char* func, const char* file, int line);

inline cudaStream_t stream(Stream s) { return static_cast<cudaStream_t>(s); }

}  // namespace ritsu::kernels::cuda_detail

#define RITSU_CUDA_CHECK(stmt)                                                                  \
  do {                                                                                          \
    cudaError_t ritsu_err_ = (stmt);                                                            \
    if (ritsu_err_ != cudaSuccess)                                                              \
      ::ritsu::kernels::cuda_detail::cuda_fail(ritsu_err_, #stmt, __func__, __FILE__, __LINE__); \
  } while (0)

#define RITSU_CUBLAS_CHECK(stmt)                                                                  \
  do {                                                                                            \
    cublasStatus_t ritsu_st_ = (stmt);                                                            \
    if (ritsu_st_ != CUBLAS_STATUS_SUCCESS)                                                       \
      ::ritsu::kernels::cuda_detail::cublas_fail(ritsu_st_, #stmt, __func__, __FILE__, __LINE__); \
  } while (0)

// After a <<<...>>> launch: catches bad configurations (grid too large, too much shared memory).
#define RITSU_CUDA_CHECK_LAUNCH() RITSU_CUDA_CHECK(cudaGetLastError())

// A launcher's precondition on its arguments (sizes the kernel cannot handle).
#define RITSU_KERNEL_REQUIRE(cond)                                                              \
  do {                                                                                          \
    if (!(cond)) ::ritsu::kernels::cuda_detail::contract_fail(#cond, __func__, __FILE__, __LINE__); \
  } while (0)
