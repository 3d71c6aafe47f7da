#include "common/checked_math.h"

#include <gtest/gtest.h>

#include <vector>

namespace ritsu {
namespace {

TEST(CheckedMath, MulDetectsOverflowBothSigns) {
  EXPECT_EQ(CheckedMul<int64_t>(3, 4), 12);
  EXPECT_FALSE(CheckedMul<int64_t>(int64_t{1} << 32, int64_t{1} << 31).has_value());
  EXPECT_FALSE(CheckedMul<int64_t>(-(int64_t{1} << 32), int64_t{1} << 32).has_value());
  EXPECT_FALSE(CheckedMul<uint64_t>(uint64_t{1} << 63, 2).has_value());
  EXPECT_EQ(CheckedAdd<uint64_t>(1, 2), 3u);
  EXPECT_FALSE(CheckedAdd<uint64_t>(~uint64_t{0}, 1).has_value());
}

TEST(CheckedMath, ElementsAndBytesOfShapes) {
  EXPECT_EQ(CheckedElements(std::vector<int64_t>{}), 1);
  EXPECT_EQ(CheckedElements(std::vector<int64_t>{2, 3, 4}), 24);
  EXPECT_EQ(CheckedElements(std::vector<int64_t>{0, int64_t{1} << 62}), 0);
  EXPECT_FALSE(CheckedElements(std::vector<int64_t>{-2, -2}).has_value());  // negatives never "cancel"
  EXPECT_FALSE(CheckedElements(std::vector<int64_t>{int64_t{1} << 32, int64_t{1} << 32}).has_value());
  EXPECT_EQ(CheckedByteSize(std::vector<int64_t>{3, 5}, 2), 30u);
  // 2^62 elements fit in int64, their 2^64 fp32 bytes do not fit in 64 bits.
  EXPECT_FALSE(CheckedByteSize(std::vector<int64_t>{int64_t{1} << 62}, 4).has_value());
  // 2^61 x 4 = 2^63 bytes fits in uint64 but not in int64 (sizes must fit both).
  EXPECT_FALSE(CheckedByteSize(std::vector<int64_t>{int64_t{1} << 61}, 4).has_value());
  EXPECT_EQ(CheckedByteSize(std::vector<int64_t>{int64_t{1} << 60}, 4), uint64_t{1} << 62);
}

}  // namespace
}  // namespace ritsu
