// Next-token choice from logits. Greedy (temperature == 0) is argmax with ties to the lowest
// id. Otherwise: logits / temperature, keep the top_k largest (0 = all), softmax in fp32 over
// them (sorted by logit descending, ties by lower id), keep the smallest prefix whose mass
// reaches top_p (at least one token), renormalise, and pick by inverse CDF with one uniform
// u = philox_uniform(seed, counter) (kernels/sampling/philox.h): counter is the caller's per
// row step number, so a run replays exactly given the same seed.
// cpu:: and cuda:: pick the same token for the same logits: cuda:: computes the argmax on the
// device and, for temperature > 0, copies the row to the host and runs the CPU twin (a decode
// step of at most a few rows; the transfer is ~0.6 MB per row for a 151,936-token vocabulary).
#pragma once

#include <cstdint>

#include "kernels/common/types.h"

namespace ritsu::kernels {

struct SamplingParams {
  float temperature = 0.0f;  // 0 = greedy
  int32_t top_k = 0;         // 0 = no top-k cut
  float top_p = 1.0f;        // 1 = no nucleus cut
  uint64_t seed = 0;
};

}  // namespace ritsu::kernels

namespace ritsu::kernels::cpu {

// logits: [batch, vocab] with leading dimension ld (T = float or bf16), host memory.
// params, counters: [batch] host arrays. tokens: [batch] host output.
template <class T>
void sample(const T* logits, int64_t batch, int64_t vocab, int64_t ld,
            const SamplingParams* params, const uint64_t* counters, int32_t* tokens, Stream s);

}  // namespace ritsu::kernels::cpu

namespace ritsu::kernels::cuda {

// logits in device memory; params, counters and tokens are HOST arrays (the caller needs the
// tokens on the host to detokenize and check stop conditions). Synchronizes the stream.
template <class T>
void sample(const T* logits, int64_t batch, int64_t vocab, int64_t ld,
            const SamplingParams* params, const uint64_t* counters, int32_t* tokens, Stream s);

}  // namespace ritsu::kernels::cuda
