// Launch-shape variants of the bf16 tensor-core NF4 GEMV, for the benchmark's sweep only
// (bench/kernels/kernels_bench.cc) and their checks in tests/gpu/kernels_gpu_test.cc.
// cuda::nf4_gemv<bf16> uses variant 0 for batch 2..8 (batch 1 takes the CUDA-core kernel).
// Every variant computes the same result; only the warps per block, the loads in flight and
// the software pipelining differ.
#pragma once

#include <cstdint>
#include <string>

#include "kernels/common/types.h"
#include "kernels/nf4/nf4.h"

namespace ritsu::kernels::cuda::detail {

int nf4_gemv_bf16_variants();
std::string nf4_gemv_bf16_variant_name(int variant);
// Same contract as cuda::nf4_gemv<bf16>; variant in [0, nf4_gemv_bf16_variants()).
void nf4_gemv_bf16_variant(int variant, const Nf4Tensor& w, const bf16* x, bf16* y, int64_t batch,
                           Stream s);

}  // namespace ritsu::kernels::cuda::detail
