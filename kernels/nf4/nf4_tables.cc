// The signed dynamic quantization map bitsandbytes uses for the double-quantized absmax
// (create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8)), rebuilt with the same
// fp32 steps: for exponent i in 0..6, the midpoints of torch.linspace(0.1, 1, 2^i + 1) scaled
// by 10^(i-6), both signs; plus 0 and 1; sorted. 2 * (1+2+...+64) + 2 = 256 entries.
#include <algorithm>
#include <array>
#include <cmath>

#include "kernels/nf4/nf4.h"

namespace ritsu::kernels {
namespace {

// torch.linspace in fp32: the first half counts up from start, the second half down from end.
std::array<float, 65> linspace_f32(float start, float end, int steps) {
  std::array<float, 65> out{};
  const float step = (end - start) / float(steps - 1);
  const int halfway = steps / 2;
  for (int i = 0; i < steps; ++i)
    out[i] = i < halfway ? start + step * float(i) : end - step * float(steps - i - 1);
  return out;
}

std::array<float, 256> build_dynamic_map() {
  std::array<float, 256> data{};
  int n = 0;
  for (int i = 0; i < 7; ++i) {
    const int items = (1 << i) + 1;
    const auto bounds = linspace_f32(0.1f, 1.0f, items);
    const float scale = float(std::pow(10.0, double(i - 6)));
    for (int j = 0; j + 1 < items; ++j) {
      const float mean = (bounds[j] + bounds[j + 1]) / 2.0f;
      data[n++] = scale * mean;
      data[n++] = -(scale * mean);
    }
  }
  data[n++] = 0.0f;
  data[n++] = 1.0f;
  std::sort(data.begin(), data.end());
  return data;
}

}  // namespace

const float* nf4_absmax_code() {
  static const std::array<float, 256> table = build_dynamic_map();
  return table.data();
}

}  // namespace ritsu::kernels
