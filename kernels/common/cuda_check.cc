#include "kernels/common/cuda_check.h"

#include <cstdio>
#include <cstdlib>

namespace ritsu::kernels::cuda_detail {

void cuda_fail(cudaError_t err, const char* stmt, const char* func, const char* file, int line) {
  std::fprintf(stderr, "ritsu: CUDA error %s (%s)\n  in %s\n  at %s (%s:%d)\n",
               cudaGetErrorName(err), cudaGetErrorString(err), stmt, func, file, line);
  if (err == cudaErrorNoKernelImageForDevice || err == cudaErrorInvalidDeviceFunction)
    std::fprintf(stderr, "  ---> HINT: rebuild with -DRITSU_CUDA_ARCHS=<this GPU's sm>\n");
  std::abort();
}

void cublas_fail(cublasStatus_t st, const char* stmt, const char* func, const char* file,
                 int line) {
  std::fprintf(stderr, "ritsu: cuBLAS error %s (%s)\n  in %s\n  at %s (%s:%d)\n",
               cublasGetStatusName(st), cublasGetStatusString(st), stmt, func, file, line);
  std::abort();
}

void contract_fail(const char* what, const char* func, const char* file, int line) {
  std::fprintf(stderr, "ritsu: kernel precondition failed: %s\n  at %s (%s:%d)\n", what, func,
               file, line);
  std::abort();
}

}  // namespace ritsu::kernels::cuda_detail
