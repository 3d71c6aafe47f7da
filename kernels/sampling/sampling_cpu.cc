#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "kernels/sampling/philox.h"
#include "kernels/sampling/sampling.h"

namespace ritsu::kernels::cpu {
namespace {

// NaN logits never win: they compare as -inf.
inline float clean(float x) { return std::isnan(x) ? -INFINITY : x; }

template <class T>
int32_t argmax_row(const T* row, int64_t vocab) {
  int64_t best = 0;
  float best_v = clean(to_float(row[0]));
  for (int64_t i = 1; i < vocab; ++i) {
    const float v = clean(to_float(row[i]));
    if (v > best_v) {
      best_v = v;
      best = i;
    }
  }
  return int32_t(best);
}

template <class T>
int32_t sample_row(const T* row, int64_t vocab, const SamplingParams& p, uint64_t counter,
                   std::vector<int32_t>& order, std::vector<float>& prob) {
  const float inv_t = 1.0f / p.temperature;
  order.resize(size_t(vocab));
  std::iota(order.begin(), order.end(), 0);
  auto by_logit = [&](int32_t a, int32_t b) {
    const float la = clean(to_float(row[a])), lb = clean(to_float(row[b]));
    return la != lb ? la > lb : a < b;
  };
  const int64_t keep_k = (p.top_k > 0 && p.top_k < vocab) ? p.top_k : vocab;
  std::partial_sort(order.begin(), order.begin() + keep_k, order.end(), by_logit);
  const float top = clean(to_float(row[order[0]])) * inv_t;
  prob.resize(size_t(keep_k));
  float total = 0.0f;
  for (int64_t i = 0; i < keep_k; ++i) {
    prob[i] = std::exp(clean(to_float(row[order[i]])) * inv_t - top);
    total += prob[i];
  }
  // Nucleus: the shortest prefix whose mass reaches top_p of the total (at least one token).
  int64_t keep = keep_k;
  if (p.top_p < 1.0f) {
    float cum = 0.0f;
    for (int64_t i = 0; i < keep_k; ++i) {
      cum += prob[i];
      if (cum >= p.top_p * total) {
        keep = i + 1;
        break;
      }
    }
  }
  float kept = 0.0f;
  for (int64_t i = 0; i < keep; ++i) kept += prob[i];
  const float target = philox_uniform(p.seed, counter) * kept;
  float cum = 0.0f;
  for (int64_t i = 0; i < keep; ++i) {
    cum += prob[i];
    if (target < cum) return order[i];
  }
  return order[keep - 1];
}

}  // namespace

template <class T>
void sample(const T* logits, int64_t batch, int64_t vocab, int64_t ld,
            const SamplingParams* params, const uint64_t* counters, int32_t* tokens, Stream) {
  std::vector<int32_t> order;
  std::vector<float> prob;
  for (int64_t b = 0; b < batch; ++b) {
    const T* row = logits + b * ld;
    tokens[b] = params[b].temperature > 0.0f
                    ? sample_row(row, vocab, params[b], counters[b], order, prob)
                    : argmax_row(row, vocab);
  }
}

template void sample<float>(const float*, int64_t, int64_t, int64_t, const SamplingParams*,
                            const uint64_t*, int32_t*, Stream);
template void sample<bf16>(const bf16*, int64_t, int64_t, int64_t, const SamplingParams*,
                           const uint64_t*, int32_t*, Stream);

}  // namespace ritsu::kernels::cpu
