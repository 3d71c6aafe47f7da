// NF4 quantize (load time) and dequantize (the prefill tile), bitsandbytes layout (nf4.h).
// Quantize: one warp per 64-block (lane l encodes elements 2l and 2l+1 into byte l), then the
// fp64 mean of the absmax vector on the host (Nf4Tensor::absmax_offset, same bits as the CPU
// twin), then one 256-thread block per 256-group for the 8-bit absmax.
#include <cmath>
#include <vector>

#include "kernels/common/cuda_common.cuh"
#include "kernels/nf4/nf4.h"
#include "kernels/nf4/nf4_codec.h"

namespace ritsu::kernels::cuda {
namespace {

using namespace cuda_detail;

template <class T>
__global__ void nf4_blocks_kernel(const T* w, int64_t n, int64_t blocks, uint8_t* packed,
                                  float* absmax) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = int64_t(gridDim.x) * (blockDim.x >> 5);
  for (int64_t b = int64_t(blockIdx.x) * (blockDim.x >> 5) + (threadIdx.x >> 5); b < blocks;
       b += warps) {
    const int64_t e0 = b * kNf4BlockSize + 2 * lane;
    const float x0 = e0 < n ? load_f(&w[e0]) : 0.0f;
    const float x1 = e0 + 1 < n ? load_f(&w[e0 + 1]) : 0.0f;
    const float amax = warp_max(fmaxf(fabsf(x0), fabsf(x1)));
    const float inv = amax > 0.0f ? 1.0f / amax : 0.0f;
    if (e0 < n) packed[e0 >> 1] = uint8_t((nf4_encode(x0 * inv) << 4) | nf4_encode(x1 * inv));
    if (lane == 0) absmax[b] = amax;
  }
}

__global__ void absmax_quant_kernel(const float* absmax, int64_t blocks, float offset,
                                    const float* code, uint8_t* absmax_q, float* absmax_scale) {
  __shared__ float smax[8];
  const int64_t b = int64_t(blockIdx.x) * kNf4AbsmaxBlockSize + threadIdx.x;
  const float x = b < blocks ? absmax[b] - offset : 0.0f;
  float m = warp_max(fabsf(x));
  if ((threadIdx.x & 31) == 0) smax[threadIdx.x >> 5] = m;
  __syncthreads();
  m = smax[0];
  for (int i = 1; i < 8; ++i) m = fmaxf(m, smax[i]);
  if (threadIdx.x == 0) absmax_scale[blockIdx.x] = m;
  const float inv = m > 0.0f ? 1.0f / m : 0.0f;
  if (b < blocks) absmax_q[b] = dynamic_map_encode(code, x * inv);
}

template <class T>
__global__ void nf4_dequant_kernel(const uint8_t* packed, const uint8_t* absmax_q,
                                   const float* absmax_scale, const float* code, float offset,
                                   int64_t e_begin, int64_t e_end, T* out) {
  __shared__ float table[16];
  if (threadIdx.x < 16) table[threadIdx.x] = nf4_level(int(threadIdx.x));
  __syncthreads();
  for (int64_t e = e_begin + (int64_t(blockIdx.x) * blockDim.x + threadIdx.x); e < e_end;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t b = e / kNf4BlockSize;
    // Two separate roundings (no FMA), as bitsandbytes' dequantize + offset add does.
    const float amax = __fadd_rn(__fmul_rn(code[absmax_q[b]], absmax_scale[b / kNf4AbsmaxBlockSize]), offset);
    store_f(&out[e - e_begin], __fmul_rn(table[nf4_nibble(packed, e)], amax));
  }
}

// The wide form of nf4_dequant_kernel for 8-aligned ranges (every row range of a weight
// whose rows are a multiple of 64): one thread turns 4 packed bytes (8 elements of one
// 64-block) into one 16-byte store of bf16 (two for fp32).
__device__ __forceinline__ void store8(bf16* out, const float (&v)[8]) {
  uint4 u;
  uint32_t* w = reinterpret_cast<uint32_t*>(&u);
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const __nv_bfloat162 pair = __floats2bfloat162_rn(v[2 * i], v[2 * i + 1]);
    w[i] = *reinterpret_cast<const uint32_t*>(&pair);
  }
  *reinterpret_cast<uint4*>(out) = u;
}
__device__ __forceinline__ void store8(float* out, const float (&v)[8]) {
  reinterpret_cast<float4*>(out)[0] = make_float4(v[0], v[1], v[2], v[3]);
  reinterpret_cast<float4*>(out)[1] = make_float4(v[4], v[5], v[6], v[7]);
}

template <class T>
__global__ void nf4_dequant8_kernel(const uint8_t* packed, const uint8_t* absmax_q,
                                    const float* absmax_scale, const float* code, float offset,
                                    int64_t e_begin, int64_t groups, T* out) {
  __shared__ float table[16];
  if (threadIdx.x < 16) table[threadIdx.x] = nf4_level(int(threadIdx.x));
  __syncthreads();
  for (int64_t g = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; g < groups;
       g += int64_t(gridDim.x) * blockDim.x) {
    const int64_t e = e_begin + 8 * g;
    const int64_t b = e / kNf4BlockSize;
    const float amax = __fadd_rn(__fmul_rn(code[absmax_q[b]], absmax_scale[b / kNf4AbsmaxBlockSize]), offset);
    const uint32_t word = *reinterpret_cast<const uint32_t*>(packed + (e >> 1));
    float v[8];
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const uint32_t byte = (word >> (8 * j)) & 0xffu;  // little-endian: byte j = elements 2j, 2j+1
      v[2 * j] = __fmul_rn(table[byte >> 4], amax);
      v[2 * j + 1] = __fmul_rn(table[byte & 0x0f], amax);
    }
    store8(out + 8 * g, v);
  }
}

}  // namespace

template <class T>
void nf4_quantize(const T* w, Nf4Tensor* out, float* workspace, Stream s) {
  const int64_t n = out->numel(), blocks = out->blocks();
  if (n <= 0) return;
  RITSU_KERNEL_REQUIRE(out->absmax_code != nullptr);
  nf4_blocks_kernel<<<grid_for(blocks, 8), 256, 0, stream(s)>>>(w, n, blocks, out->packed,
                                                                 workspace);
  RITSU_CUDA_CHECK_LAUNCH();
  // The mean of the absmax vector is summed on the host in fp64, in order, exactly as the CPU
  // twin does, so both produce the same offset bits (a load-time copy of n/16 bytes).
  std::vector<float> absmax(static_cast<size_t>(blocks));
  RITSU_CUDA_CHECK(cudaMemcpyAsync(absmax.data(), workspace, size_t(blocks) * sizeof(float),
                                   cudaMemcpyDeviceToHost, stream(s)));
  RITSU_CUDA_CHECK(cudaStreamSynchronize(stream(s)));
  double sum = 0.0;
  for (float a : absmax) sum += a;
  const float mean = float(sum / double(blocks));
  absmax_quant_kernel<<<unsigned(out->absmax_blocks()), kNf4AbsmaxBlockSize, 0, stream(s)>>>(
      workspace, blocks, mean, out->absmax_code, out->absmax_q, out->absmax_scale);
  RITSU_CUDA_CHECK_LAUNCH();
  out->absmax_offset = mean;
}

template <class T>
void nf4_dequantize(const Nf4Tensor& w, int64_t row_begin, int64_t row_count, T* out, Stream s) {
  const int64_t e0 = row_begin * w.cols, e1 = (row_begin + row_count) * w.cols;
  if (e1 <= e0) return;
  const bool wide = e0 % 8 == 0 && (e1 - e0) % 8 == 0 && (reinterpret_cast<uintptr_t>(out) & 15u) == 0 &&
                    (reinterpret_cast<uintptr_t>(w.packed) & 3u) == 0;
  if (wide) {
    const int64_t groups = (e1 - e0) / 8;
    nf4_dequant8_kernel<<<grid_for(groups, 256), 256, 0, stream(s)>>>(
        w.packed, w.absmax_q, w.absmax_scale, w.absmax_code, w.absmax_offset, e0, groups, out);
    RITSU_CUDA_CHECK_LAUNCH();
    return;
  }
  nf4_dequant_kernel<<<grid_for(e1 - e0, 256), 256, 0, stream(s)>>>(
      w.packed, w.absmax_q, w.absmax_scale, w.absmax_code, w.absmax_offset, e0, e1, out);
  RITSU_CUDA_CHECK_LAUNCH();
}

#define INSTANTIATE(T)                                                             \
  template void nf4_quantize<T>(const T*, Nf4Tensor*, float*, Stream);             \
  template void nf4_dequantize<T>(const Nf4Tensor&, int64_t, int64_t, T*, Stream);
INSTANTIATE(float)
INSTANTIATE(bf16)
#undef INSTANTIATE

}  // namespace ritsu::kernels::cuda
