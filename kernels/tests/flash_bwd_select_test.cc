// The CUDA attention backward's kernel choice (kernels/attention/flash_bwd_select.h), on the
// host: which variant each device's shared-memory limit gets. The limits are the values of
// cudaDevAttrMaxSharedMemoryPerBlockOptin of each compute capability (CUDA programming
// guide, "Technical Specifications per Compute Capability").
#include "kernels/attention/flash_bwd_select.h"

#include <gtest/gtest.h>

namespace ritsu::kernels::cuda {
namespace {

constexpr size_t kSm86 = 99 * 1024;   // RTX 3080 (sm_86), also sm_89: 101376 bytes
constexpr size_t kSm80 = 163 * 1024;  // A100
constexpr size_t kSm90 = 227 * 1024;  // H100, H200
constexpr size_t kSm75 = 64 * 1024;   // Turing: no bf16 mma, but the size rule alone

TEST(FlashBwdSelect, LayoutSizesMatchTheKernelsSharedMemory) {
  // K, V, Q[2], dO[2] tiles of 64 x (128 + 8) bf16, dS^T 64 x 72 bf16, lse/D 4 x 64 fp32.
  EXPECT_EQ(flash_bwd_smem_bytes(FlashBwdKernel::kMma, 128), 114688u);  // 112 KiB
  EXPECT_EQ(flash_bwd_smem_bytes(FlashBwdKernel::kMmaLowSmem, 128), 97280u);  // 95 KiB
  EXPECT_EQ(flash_bwd_smem_bytes(FlashBwdKernel::kMma, 64), 65536u);
  EXPECT_EQ(flash_bwd_smem_bytes(FlashBwdKernel::kMmaLowSmem, 64), 56320u);
  EXPECT_EQ(flash_bwd_smem_bytes(FlashBwdKernel::kSimple, 128), 0u);
}

TEST(FlashBwdSelect, HeadDim128OnSm86TakesTheLowSharedMemoryVariantNotTheSimpleKernel) {
  EXPECT_EQ(choose_flash_bwd_kernel(true, 128, kSm86), FlashBwdKernel::kMmaLowSmem);
  EXPECT_LE(flash_bwd_smem_bytes(FlashBwdKernel::kMmaLowSmem, 128), kSm86);
}

TEST(FlashBwdSelect, DevicesWithRoomKeepTheDoubleBufferedVariant) {
  EXPECT_EQ(choose_flash_bwd_kernel(true, 128, kSm90), FlashBwdKernel::kMma);
  EXPECT_EQ(choose_flash_bwd_kernel(true, 128, kSm80), FlashBwdKernel::kMma);
  EXPECT_EQ(choose_flash_bwd_kernel(true, 64, kSm86), FlashBwdKernel::kMma);
  EXPECT_EQ(choose_flash_bwd_kernel(true, 64, kSm75), FlashBwdKernel::kMma);  // exactly 64 KiB
}

TEST(FlashBwdSelect, TooLittleSharedMemoryOrNoTensorCorePathTakesTheSimpleKernel) {
  EXPECT_EQ(choose_flash_bwd_kernel(true, 128, kSm75), FlashBwdKernel::kSimple);
  EXPECT_EQ(choose_flash_bwd_kernel(false, 128, kSm90), FlashBwdKernel::kSimple);  // fp32, unaligned
  EXPECT_EQ(choose_flash_bwd_kernel(true, 96, kSm90), FlashBwdKernel::kSimple);
  EXPECT_EQ(choose_flash_bwd_kernel(true, 256, kSm90), FlashBwdKernel::kSimple);
}

}  // namespace
}  // namespace ritsu::kernels::cuda
