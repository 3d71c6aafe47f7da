// Quantization blocks: hand-computed blocks pin the byte layouts (derived from ggml-common.h's
// block structs and dequantize_row_* by hand, not from ritsu's encoder), and round trips on
// random data check every element against the bound documented in quantize.h.
#include "engine/merge/quantize.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "engine/merge/ggml_types.h"

namespace ritsu::merge {
namespace {

std::vector<uint8_t> Encode(GgmlType t, const std::vector<float>& x) {
  std::vector<uint8_t> out(RowBytes(t, static_cast<int64_t>(x.size())));
  QuantizeRow(t, x.data(), static_cast<int64_t>(x.size()), out.data());
  return out;
}

std::vector<float> Decode(GgmlType t, const std::vector<uint8_t>& b, size_t n) {
  std::vector<float> y(n);
  DequantizeRow(t, b.data(), static_cast<int64_t>(n), y.data());
  return y;
}

uint16_t U16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

TEST(QuantizeTest, BlockSizesMatchGgml) {
  EXPECT_EQ(RowBytes(GgmlType::kQ8_0, 32), 34u);
  EXPECT_EQ(RowBytes(GgmlType::kQ5_0, 32), 22u);
  EXPECT_EQ(RowBytes(GgmlType::kQ4_K, 256), 144u);
  EXPECT_EQ(RowBytes(GgmlType::kQ6_K, 256), 210u);
  EXPECT_EQ(RowBytes(GgmlType::kF16, 10), 20u);
  ASSERT_TRUE(FindGgmlType(12).has_value());
  EXPECT_STREQ(FindGgmlType(12)->name, "q4_K");
  EXPECT_FALSE(FindGgmlType(2).has_value());  // q4_0: not a type ritsu reads
}

// x = i - 16: absmax 16, d = 16/127 whose fp16 is 0.125 * (1 + 8/1024) -> bits 0x3008.
TEST(QuantizeTest, Q8_0HandComputedBlock) {
  std::vector<float> x(32);
  for (int i = 0; i < 32; ++i) x[i] = static_cast<float>(i - 16);
  auto b = Encode(GgmlType::kQ8_0, x);
  EXPECT_EQ(U16(b.data()), 0x3008);
  auto q = [&](int i) { return static_cast<int8_t>(b[2 + i]); };
  EXPECT_EQ(q(0), -127);  // -16 * 127/16
  EXPECT_EQ(q(16), 0);
  EXPECT_EQ(q(17), 8);    // 7.9375 rounds to 8
  EXPECT_EQ(q(20), 32);   // 31.75
  EXPECT_EQ(q(31), 119);  // 119.0625
  auto y = Decode(GgmlType::kQ8_0, b, 32);
  EXPECT_FLOAT_EQ(y[17], 8 * (0.125f * (1 + 8.0f / 1024)));
}

// x = j - 15: the signed maximum is +16 (j = 31), so d = 16/-16 = -1 (fp16 0xBC00) and code
// q_j = trunc(-x + 16.5) = 31 - j; codes >= 16 (j <= 15) set their bit in qh.
TEST(QuantizeTest, Q5_0HandComputedBlock) {
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j - 15);
  auto b = Encode(GgmlType::kQ5_0, x);
  EXPECT_EQ(U16(b.data()), 0xBC00);
  EXPECT_EQ(b[2], 0xFF);
  EXPECT_EQ(b[3], 0xFF);
  EXPECT_EQ(b[4], 0x00);
  EXPECT_EQ(b[5], 0x00);
  EXPECT_EQ(b[6], 0xFF);  // q0 = 31 -> 15 | q16 = 15 -> 15 << 4
  EXPECT_EQ(b[6 + 15], 0x00);  // q15 = 16 -> 0 | q31 = 0
  auto y = Decode(GgmlType::kQ5_0, b, 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], x[j]) << j;
}

// A Q4_K block built by hand: d = 1, dmin = 0.5, scales sc = {1,2,3,4,17,33,50,63},
// mins m = {0,5,10,15,20,40,60,63}, every qs byte 0x3A (even sub-blocks read 10, odd read 3).
TEST(QuantizeTest, Q4_KHandBuiltBlockDecodes) {
  std::vector<uint8_t> b(144);
  const uint16_t d = 0x3C00, dmin = 0x3800;
  std::memcpy(b.data(), &d, 2);
  std::memcpy(b.data() + 2, &dmin, 2);
  const uint8_t scales[12] = {0x41, 0x82, 0xC3, 0xC4, 0x40, 0x85, 0xCA, 0xCF, 0x41, 0x81, 0xC2, 0xFF};
  std::memcpy(b.data() + 4, scales, 12);
  std::memset(b.data() + 16, 0x3A, 128);
  auto y = Decode(GgmlType::kQ4_K, b, 256);
  const float expect[8] = {10, 3.5f, 25, 4.5f, 160, 79, 470, 157.5f};  // d*sc*q - dmin*m
  for (int j = 0; j < 8; ++j) {
    for (int i = 0; i < 32; ++i) ASSERT_EQ(y[32 * j + i], expect[j]) << "sub-block " << j;
  }
}

// A Q6_K block built by hand: d = 0.5, scales[j] = j - 8, every ql byte 0x21 (low nibble 1,
// high 2), every qh byte 0xE4 (2-bit fields 0,1,2,3). Element r of a half: low bits 1 for
// r < 64 else 2, high bits r/32, so q - 32 = -31, -15, 2, 18 for the four quarters.
TEST(QuantizeTest, Q6_KHandBuiltBlockDecodes) {
  std::vector<uint8_t> b(210);
  std::memset(b.data(), 0x21, 128);
  std::memset(b.data() + 128, 0xE4, 64);
  for (int j = 0; j < 16; ++j) b[192 + j] = static_cast<uint8_t>(static_cast<int8_t>(j - 8));
  const uint16_t d = 0x3800;
  std::memcpy(b.data() + 208, &d, 2);
  auto y = Decode(GgmlType::kQ6_K, b, 256);
  EXPECT_EQ(y[0], 124);     // 0.5 * -8 * -31
  EXPECT_EQ(y[40], 45);     // 0.5 * -6 * -15
  EXPECT_EQ(y[70], -4);     // 0.5 * -4 * 2
  EXPECT_EQ(y[100], -18);   // 0.5 * -2 * 18
  EXPECT_EQ(y[200], 4);     // second half, r = 72: 0.5 * 4 * 2
  EXPECT_EQ(y[255], 63);    // r = 127: 0.5 * 7 * 18
}

// Source rows of several shapes: gaussian weights with outliers, one-signed blocks, constants,
// zeros, and tiny values whose scales fall into fp16's subnormal range.
std::vector<float> TestRow(int seed, size_t n) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 0.02f);
  std::vector<float> x(n);
  for (size_t i = 0; i < n; ++i) x[i] = g(rng);
  for (size_t i = 0; i < n; i += 97) x[i] *= 25;                  // outliers
  for (size_t i = 256; i < 512 && i < n; ++i) x[i] = std::fabs(x[i]);      // all positive
  for (size_t i = 512; i < 768 && i < n; ++i) x[i] = -std::fabs(x[i]) - 0.5f;  // all negative
  for (size_t i = 768; i < 1024 && i < n; ++i) x[i] = 0.75f;      // constant
  for (size_t i = 1024; i < 1280 && i < n; ++i) x[i] = 0;         // zeros
  for (size_t i = 1280; i < 1536 && i < n; ++i) x[i] *= 1e-4f;    // subnormal fp16 scales
  return x;
}

class RoundTripTest : public ::testing::TestWithParam<GgmlType> {};

TEST_P(RoundTripTest, EveryElementWithinDocumentedBound) {
  const GgmlType t = GetParam();
  const size_t n = 256 * 24;
  auto x = TestRow(7, n);
  auto y = Decode(t, Encode(t, x), n);
  std::vector<float> bound(n);
  QuantErrorBounds(t, x.data(), static_cast<int64_t>(n), bound.data());
  double sum_err2 = 0, sum_bound = 0;
  for (size_t i = 0; i < n; ++i) {
    const float err = std::fabs(x[i] - y[i]);
    ASSERT_LE(err, bound[i]) << GgmlTypeName(t) << " element " << i << " x=" << x[i] << " y=" << y[i];
    sum_err2 += double(err) * err;
    sum_bound += bound[i];
  }
  // The bound is not vacuous: for the quantized types the average error is a real fraction of
  // it (rounding error is spread over half a step; the bound is about half a step).
  if (t != GgmlType::kF32) {
    EXPECT_GT(std::sqrt(sum_err2 / n), 0.05 * sum_bound / n) << GgmlTypeName(t);
  }
  // Zeros stay exactly zero and a constant block decodes close to its value.
  for (size_t i = 1024; i < 1280; ++i) ASSERT_EQ(y[i], 0.0f) << GgmlTypeName(t);
}

INSTANTIATE_TEST_SUITE_P(AllTypes, RoundTripTest,
                         ::testing::Values(GgmlType::kF32, GgmlType::kF16, GgmlType::kBF16, GgmlType::kQ8_0,
                                           GgmlType::kQ5_0, GgmlType::kQ4_K, GgmlType::kQ6_K),
                         [](const auto& info) { return std::string(GgmlTypeName(info.param)); });

// Q8_0's error spread: rounding error is uniform over half a step d, so its RMS is close to
// d/sqrt(12) per block (checked within 30% over the gaussian blocks, 2048 samples).
TEST(QuantizeTest, Q8_0ErrorIsHalfStepRounding) {
  std::mt19937 rng(3);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> x(32 * 64);
  for (auto& v : x) v = g(rng);
  auto y = Decode(GgmlType::kQ8_0, Encode(GgmlType::kQ8_0, x), x.size());
  double ratio_sum = 0;
  for (size_t b = 0; b < 64; ++b) {
    float a = 0;
    double e2 = 0;
    for (size_t i = 0; i < 32; ++i) a = std::max(a, std::fabs(x[32 * b + i]));
    for (size_t i = 0; i < 32; ++i) e2 += std::pow(x[32 * b + i] - y[32 * b + i], 2);
    ratio_sum += std::sqrt(e2 / 32) / (a / 127 / std::sqrt(12.0));
  }
  EXPECT_NEAR(ratio_sum / 64, 1.0, 0.3);
}

TEST(QuantizeTest, ParsesGgufFlag) {
  EXPECT_EQ(ParseGgufFileType("Q4_K_M"), GgufFileType::kMostlyQ4_K_M);
  EXPECT_EQ(ParseGgufFileType("q8_0"), GgufFileType::kMostlyQ8_0);
  EXPECT_EQ(ParseGgufFileType("bf16"), GgufFileType::kMostlyBF16);
  EXPECT_FALSE(ParseGgufFileType("q3_k_s").has_value());
}

}  // namespace
}  // namespace ritsu::merge
