// Internal to kernels/matmul: y[m, n] += bias[n] with bias and y of possibly different storage
// (linear_fwd<bf16, float>). Declared without CUDA types so matmul_cublas.cc (g++) can call it.
#pragma once

#include <cstdint>

#include "kernels/common/types.h"

namespace ritsu::kernels::cuda_detail {

template <class TB, class TY>
void add_row_bias(TY* y, const TB* bias, int64_t M, int64_t N, kernels::Stream s);

}  // namespace ritsu::kernels::cuda_detail
