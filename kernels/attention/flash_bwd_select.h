// Which kernel the CUDA attention backward runs, as a pure function of the inputs' properties
// and the device's shared-memory limit, so that the choice is tested on the host (CI has no
// GPU) and flash_attention.cu only asks the device for its limit. Also the shared-memory
// layout sizes of the tensor-core backward (flash_bwd_mma.cuh derives its layout from the
// same constants, and static_asserts the match).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/attention/attention.h"

namespace ritsu::kernels::cuda::flash_bwd_layout {

constexpr int kBK = 64;  // keys per block
constexpr int kBQ = 64;  // query rows per tile of the inner loop

// Shared memory of one block of flash_bwd_mma_kernel<head_dim, do_buffers>: K, V, two Q
// buffers and `do_buffers` dO buffers (bf16 rows of head_dim + 8 against bank conflicts), the
// dS^T tile (bf16, rows of kBQ + 8), and two buffers each of lse and D (fp32).
constexpr size_t smem_bytes(int head_dim, int do_buffers) {
  const size_t tile = size_t(kBK) * (head_dim + 8) * 2;
  return size_t(4 + do_buffers) * tile + size_t(kBK) * (kBQ + 8) * 2 + size_t(4) * kBQ * 4;
}

}  // namespace ritsu::kernels::cuda::flash_bwd_layout

namespace ritsu::kernels::cuda {

// The shared memory FlashBwdKernel k needs at head_dim (0 for kSimple and kAuto).
constexpr size_t flash_bwd_smem_bytes(FlashBwdKernel k, int64_t head_dim) {
  const int hd = int(head_dim);
  return k == FlashBwdKernel::kMma         ? flash_bwd_layout::smem_bytes(hd, 2)
         : k == FlashBwdKernel::kMmaLowSmem ? flash_bwd_layout::smem_bytes(hd, 1)
                                            : 0;
}

// kAuto's choice. tensor_core_ok: bf16, 16-byte-aligned views and strides (the launcher
// checks). The faster kMma where the block's shared memory fits smem_optin (the device's
// cudaDevAttrMaxSharedMemoryPerBlockOptin), else kMmaLowSmem (head_dim 128 on sm_86/sm_89:
// 99 KiB), else the simple kernel.
constexpr FlashBwdKernel choose_flash_bwd_kernel(bool tensor_core_ok, int64_t head_dim,
                                                 size_t smem_optin) {
  if (!tensor_core_ok || (head_dim != 64 && head_dim != 128)) return FlashBwdKernel::kSimple;
  if (flash_bwd_smem_bytes(FlashBwdKernel::kMma, head_dim) <= smem_optin) return FlashBwdKernel::kMma;
  if (flash_bwd_smem_bytes(FlashBwdKernel::kMmaLowSmem, head_dim) <= smem_optin)
    return FlashBwdKernel::kMmaLowSmem;
  return FlashBwdKernel::kSimple;
}

}  // namespace ritsu::kernels::cuda
