// The statistics of `ritsu compare` against values computed independently of this code:
//  - hand-derived small cases (written out in the comments);
//  - McNemar: Python 3.11, exact rational arithmetic,
//      float(min(1, Fraction(2 * sum(math.comb(n, k) for k in range(min(b, c) + 1)), 2**n)))
//    cross-checked with scipy 1.17.1 scipy.stats.binomtest(b, b + c, 0.5).pvalue (which agrees
//    to 12 significant digits on the large cases; the exact fraction is the reference);
//  - Wilson: statsmodels 0.15.0 proportion_confint(k, n, alpha=0.05, method="wilson");
//  - Holm: statsmodels multipletests(p, method="holm")[1].
#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "engine/eval/paired_stats.h"

namespace ritsu::eval {
namespace {

// Relative closeness; the references are correctly rounded doubles, the code sums in long
// double, so 1e-12 leaves room only for rounding, not for a wrong formula.
void ExpectRel(double got, double want, double rel = 1e-12) {
  EXPECT_NEAR(got, want, rel * std::max(std::abs(want), std::numeric_limits<double>::min())) << "want " << want;
}

TEST(McNemarExact, HandDerivedCases) {
  EXPECT_EQ(McNemarExactP(0, 0), 1.0);            // no discordant pairs: no evidence
  EXPECT_EQ(McNemarExactP(5, 0), 2.0 / 32);       // 2 * C(5,0) / 2^5
  EXPECT_EQ(McNemarExactP(0, 5), 2.0 / 32);       // symmetric
  EXPECT_EQ(McNemarExactP(6, 0), 2.0 / 64);       // the smallest n that reaches p < 0.05
  EXPECT_EQ(McNemarExactP(1, 4), 12.0 / 32);      // 2 * (1 + 5) / 32
  EXPECT_EQ(McNemarExactP(7, 1), 18.0 / 256);     // 2 * (1 + 8) / 256 = 0.0703125
  EXPECT_EQ(McNemarExactP(10, 2), 158.0 / 4096);  // 2 * (1 + 12 + 66) / 4096 = 0.03857421875
  EXPECT_EQ(McNemarExactP(3, 3), 1.0);            // the tail sum passes 1/2: clamped to 1
  EXPECT_EQ(McNemarExactP(1, 0), 1.0);            // 2 * 1/2
}

TEST(McNemarExact, MatchesIndependentReference) {
  ExpectRel(McNemarExactP(20, 8), 0.03569813817739487);
  ExpectRel(McNemarExactP(8, 20), 0.03569813817739487);
  ExpectRel(McNemarExactP(40, 60), 0.05688793364098089);
  ExpectRel(McNemarExactP(12, 5), 0.143463134765625);
  EXPECT_EQ(McNemarExactP(13, 13), 1.0);
  // Thousands of discordant pairs: 2^-n alone underflows a double long before this.
  ExpectRel(McNemarExactP(500, 430), 0.023608839292547198);
  ExpectRel(McNemarExactP(1500, 1400), 0.06598734966518381);
  ExpectRel(McNemarExactP(3000, 2700), 7.457315554470237e-05);
  ExpectRel(McNemarExactP(0, 1000), 1.8665272370064378e-301);  // = 2^-999
}

TEST(Wilson, MatchesIndependentReference) {
  struct Case { int64_t k, n; double lo, hi; };
  for (const Case& c : {Case{28, 40, 0.5456998118185505, 0.8192515477025348},  // the 70 % of 40
                        Case{0, 10, 0.0, 0.27753279986288926},
                        Case{10, 10, 0.7224672001371106, 1.0},
                        Case{1, 1, 0.2065493143772374, 1.0},
                        Case{5, 10, 0.23659309051256394, 0.7634069094874361},
                        Case{73, 140, 0.43921920523478664, 0.6024933861779528},
                        Case{1, 40, 0.004426831502681396, 0.12881368963474096},
                        Case{39, 40, 0.8711863103652591, 0.9955731684973186},
                        Case{600, 1000, 0.5693094295142662, 0.6299252187886226}}) {
    SCOPED_TRACE(testing::Message() << c.k << "/" << c.n);
    const Interval iv = WilsonInterval(c.k, c.n);
    ExpectRel(iv.lo, c.lo, 1e-12);
    ExpectRel(iv.hi, c.hi, 1e-12);
  }
}

TEST(Wilson, HandDerivedAndEdgeCases) {
  // k = n/2: centred on 1/2, so lo + hi = 1 exactly up to rounding.
  const Interval half = WilsonInterval(20, 40);
  EXPECT_NEAR(half.lo + half.hi, 1.0, 1e-15);
  // 0 of n: lo = 0, hi = z^2 / (n + z^2) (the closed form with p = 0).
  const double z2 = kZ95 * kZ95;
  EXPECT_EQ(WilsonInterval(0, 40).lo, 0.0);
  EXPECT_NEAR(WilsonInterval(0, 40).hi, z2 / (40 + z2), 1e-15);
  EXPECT_EQ(WilsonInterval(40, 40).hi, 1.0);
  // No trials: no information.
  EXPECT_EQ(WilsonInterval(0, 0).lo, 0.0);
  EXPECT_EQ(WilsonInterval(0, 0).hi, 1.0);
  // A wider z gives a wider interval.
  EXPECT_LT(WilsonInterval(28, 40, 2.5758293035489).lo, WilsonInterval(28, 40).lo);
}

TEST(Holm, MatchesIndependentReference) {
  using V = std::vector<double>;
  auto expect = [](const V& got, const V& want) {
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) ExpectRel(got[i], want[i], 1e-15);
  };
  // Sorted 0.01, 0.03, 0.04 -> 3*0.01, 2*0.03, max(0.06, 1*0.04): the running max matters.
  expect(HolmAdjust({0.01, 0.04, 0.03}), {0.03, 0.06, 0.06});
  expect(HolmAdjust({0.2, 0.01, 0.5, 0.03}), {0.4, 0.04, 0.5, 0.09});
  expect(HolmAdjust({0.6, 0.6}), {1.0, 1.0});  // clamped to 1
  expect(HolmAdjust({0.04}), {0.04});         // one comparison: unchanged
  expect(HolmAdjust({0.0625, 0.001, 0.0625}), {0.125, 0.003, 0.125});
  EXPECT_TRUE(HolmAdjust({}).empty());
}

}  // namespace
}  // namespace ritsu::eval
