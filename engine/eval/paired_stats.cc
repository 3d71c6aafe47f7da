#include "engine/eval/paired_stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace ritsu::eval {

Interval WilsonInterval(int64_t successes, int64_t trials, double z) {
  if (trials <= 0) return {0.0, 1.0};
  const double n = static_cast<double>(trials);
  const double p = static_cast<double>(successes) / n;
  const double z2 = z * z;
  const double denom = 1.0 + z2 / n;
  const double center = (p + z2 / (2 * n)) / denom;
  const double half = z / denom * std::sqrt(p * (1 - p) / n + z2 / (4 * n * n));
  Interval iv{std::max(0.0, center - half), std::min(1.0, center + half)};
  // The closed form gives exactly 0 / 1 at the ends; rounding would leave 1e-17 residues.
  if (successes <= 0) iv.lo = 0.0;
  if (successes >= trials) iv.hi = 1.0;
  return iv;
}

double McNemarExactP(int64_t improved, int64_t regressed) {
  const int64_t n = improved + regressed;
  if (n <= 0) return 1.0;
  const int64_t m = std::min(improved, regressed);
  // log C(n, k) - n log 2 for k = 0..m, built by the ratio C(n,k)/C(n,k-1) = (n-k+1)/k; the last
  // term is the largest (m <= n/2), so the sum is taken relative to it (no underflow of 2^-n).
  std::vector<long double> logs(static_cast<size_t>(m) + 1);
  long double l = -static_cast<long double>(n) * std::log(2.0L);
  logs[0] = l;
  for (int64_t k = 1; k <= m; ++k) {
    l += std::log(static_cast<long double>(n - k + 1)) - std::log(static_cast<long double>(k));
    logs[static_cast<size_t>(k)] = l;
  }
  const long double top = logs.back();
  long double sum = 0;
  for (long double v : logs) sum += std::exp(v - top);
  const long double p = 2.0L * std::exp(top + std::log(sum));
  return static_cast<double>(std::min(1.0L, p));
}

std::vector<double> HolmAdjust(const std::vector<double>& p) {
  const size_t m = p.size();
  std::vector<size_t> order(m);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return p[a] < p[b]; });
  std::vector<double> adj(m);
  double running = 0;
  for (size_t j = 0; j < m; ++j) {
    running = std::max(running, std::min(1.0, static_cast<double>(m - j) * p[order[j]]));
    adj[order[j]] = running;
  }
  return adj;
}

}  // namespace ritsu::eval
