#include "common/units.h"

#include <gtest/gtest.h>

namespace ritsu {
namespace {

TEST(UnitsTest, ParseSize) {
  EXPECT_EQ(*ParseSize("20G"), 20ull << 30);
  EXPECT_EQ(*ParseSize("20g"), 20ull << 30);
  EXPECT_EQ(*ParseSize("20GB"), 20ull << 30);
  EXPECT_EQ(*ParseSize("20GiB"), 20ull << 30);
  EXPECT_EQ(*ParseSize("512Mi"), 512ull << 20);
  EXPECT_EQ(*ParseSize("1.5G"), 3ull << 29);
  EXPECT_EQ(*ParseSize("1024"), 1024u);
  EXPECT_EQ(*ParseSize("0"), 0u);
  for (const char* bad : {"", "G", "20X", "-1G", "1..5G", "20 G"}) {
    auto r = ParseSize(bad);
    EXPECT_FALSE(r.ok()) << bad;
  }
  EXPECT_NE(ParseSize("20X").status().message().find("unknown unit"), std::string::npos);
}

TEST(UnitsTest, ParseDuration) {
  EXPECT_EQ(*ParseDuration("2h"), 7'200'000);
  EXPECT_EQ(*ParseDuration("1h30m"), 5'400'000);
  EXPECT_EQ(*ParseDuration("90s"), 90'000);
  EXPECT_EQ(*ParseDuration("90"), 90'000);
  EXPECT_EQ(*ParseDuration("250ms"), 250);
  EXPECT_EQ(*ParseDuration("1d"), 86'400'000);
  EXPECT_EQ(*ParseDuration("0.5s"), 500);
  for (const char* bad : {"", "h", "2x", "-2h", "2h-"}) EXPECT_FALSE(ParseDuration(bad).ok()) << bad;
}

TEST(UnitsTest, FormatRoundTrips) {
  EXPECT_EQ(FormatSize(20ull << 30), "20G");
  EXPECT_EQ(FormatSize(3ull << 29), "1.5G");
  EXPECT_EQ(FormatSize(100), "100B");
  EXPECT_EQ(FormatDuration(5'400'000), "1h30m");
  EXPECT_EQ(FormatDuration(90'000), "1m30s");
  EXPECT_EQ(FormatDuration(250), "250ms");
  for (const char* d : {"1h30m", "2h", "45s", "1d2h"}) {
    EXPECT_EQ(FormatDuration(*ParseDuration(d)), d);
  }
}

}  // namespace
}  // namespace ritsu
