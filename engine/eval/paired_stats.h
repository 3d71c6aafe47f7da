// The statistics `ritsu compare` reports, as pure functions: the Wilson score interval of an
// accuracy, the exact McNemar test of two classifiers on the same questions, and Holm's
// step-down adjustment over several such tests. Formulas are spelled out in docs/eval.md.
#pragma once

#include <cstdint>
#include <vector>

namespace ritsu::eval {

// The two-sided 95 % normal quantile, Phi^-1(0.975).
inline constexpr double kZ95 = 1.959963984540054;

struct Interval {
  double lo = 0;
  double hi = 1;
};

// Wilson score interval for `successes` out of `trials` (0 <= successes <= trials). With no
// trials there is no information and the interval is [0, 1].
Interval WilsonInterval(int64_t successes, int64_t trials, double z = kZ95);

// Exact (binomial) two-sided McNemar p-value. `improved` = questions the baseline got wrong and
// the other got right, `regressed` = the reverse; only these discordant pairs carry evidence.
// p = min(1, 2 * P[X <= min(b, c)]) for X ~ Binomial(b + c, 1/2); no discordant pairs -> 1.
// Summed in log space so it stays accurate for tens of thousands of questions.
double McNemarExactP(int64_t improved, int64_t regressed);

// Holm-Bonferroni adjusted p-values, in the order given: with p sorted ascending,
// adj_(i) = max_{j <= i} min(1, (m - j + 1) p_(j)).
std::vector<double> HolmAdjust(const std::vector<double>& p);

}  // namespace ritsu::eval
