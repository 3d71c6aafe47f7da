#include "cli/args.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace ritsu::cli {
namespace {

ArgParser Demo() {
  ArgParser p("ritsu demo");
  p.Value("--gpus", "N", "gpus").Value("--after", "ID", "deps", true).Bool("--json", "json").Positionals("ID", 0, 1)
      .Rest("CMD", false);
  return p;
}

TEST(ArgsTest, ParsesValuesBoolsRepeatsAndRest) {
  auto a = Demo().Parse({"--gpus", "2", "--after=3", "--after", "4", "--json", "7", "--", "python", "--gpus", "x"});
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->Get("--gpus"), "2");
  EXPECT_EQ(a->GetAll("--after"), (std::vector<std::string>{"3", "4"}));
  EXPECT_TRUE(a->Has("--json"));
  EXPECT_EQ(a->positionals, (std::vector<std::string>{"7"}));
  // Flags after "--" belong to the task's command, not to ritsu.
  EXPECT_EQ(a->rest, (std::vector<std::string>{"python", "--gpus", "x"}));
}

TEST(ArgsTest, UnknownFlagSuggestsTheClosestOne) {
  auto a = Demo().Parse({"--gpu", "2"});
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("unknown flag --gpu"), std::string::npos) << a.status().message();
  EXPECT_NE(a.status().message().find("did you mean --gpus?"), std::string::npos) << a.status().message();
  EXPECT_NE(a.status().message().find("ritsu demo --help"), std::string::npos);
}

TEST(ArgsTest, FarOffFlagGetsNoSuggestion) {
  auto a = Demo().Parse({"--completely-different"});
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().message().find("did you mean"), std::string::npos) << a.status().message();
}

TEST(ArgsTest, ReportsMissingValueRepeatAndExtraArguments) {
  auto missing = Demo().Parse({"--gpus"});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("--gpus needs a value"), std::string::npos);
  auto twice = Demo().Parse({"--gpus", "1", "--gpus", "2"});
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.status().message().find("more than once"), std::string::npos);
  auto extra = Demo().Parse({"1", "2"});
  ASSERT_FALSE(extra.ok());
  EXPECT_NE(extra.status().message().find("unexpected argument '2'"), std::string::npos);
  auto bool_value = Demo().Parse({"--json=yes"});
  ASSERT_FALSE(bool_value.ok());
}

TEST(ArgsTest, RequiredRestIsEnforced) {
  ArgParser p("ritsu submit exec");
  p.Rest("CMD [ARGS...]", true);
  auto a = p.Parse({});
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("missing CMD"), std::string::npos) << a.status().message();
  auto dd = p.Parse({"--"});
  EXPECT_FALSE(dd.ok());
}

TEST(ArgsTest, HelpIsNotAnError) {
  auto a = Demo().Parse({"--help"});
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->help);
  std::string u = Demo().Usage();
  EXPECT_NE(u.find("--gpus N"), std::string::npos);
  EXPECT_NE(u.find("(repeatable)"), std::string::npos);
}

TEST(ArgsTest, EditDistanceAndDidYouMean) {
  EXPECT_EQ(EditDistance("status", "status"), 0u);
  EXPECT_EQ(EditDistance("stauts", "status"), 1u);  // one swap
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3u);
  EXPECT_EQ(EditDistance("", "abc"), 3u);
  EXPECT_EQ(DidYouMean("stauts", {"show", "status", "submit"}), "status");
  EXPECT_EQ(DidYouMean("lgos", {"logs", "wait"}), "logs");
  EXPECT_EQ(DidYouMean("frobnicate", {"logs", "wait"}), "");
  EXPECT_EQ(DidYouMean("stat", {"show", "status", "submit"}), "status");  // unique prefix
  EXPECT_EQ(DidYouMean("s", {"show", "status", "submit"}), "");
}

TEST(ArgsTest, ParseIntChecksTheRangeAndSaysIt) {
  EXPECT_EQ(*ParseInt("--gpus", "5", 0, 64), 5);
  EXPECT_EQ(*ParseInt("--priority", "-7", -1000, 1000), -7);
  EXPECT_EQ(*ParseInt("--priority", "+7", -1000, 1000), 7);
  EXPECT_EQ(*ParseInt("--priority", "-1000000", -1000000, 1000000), -1000000);
  // The number that used to wrap through int32 to the highest priority.
  auto wrap = ParseInt("--priority", "-2147483649", -1000000, 1000000);
  ASSERT_FALSE(wrap.ok());
  EXPECT_EQ(wrap.status().message(), "--priority: -2147483649 is out of range [-1000000, 1000000]");
  // Past int64 is out of range too, not "not a number".
  auto huge = ParseInt("--after", "99999999999999999999999", 1, INT64_MAX);
  ASSERT_FALSE(huge.ok());
  EXPECT_EQ(huge.status().message(), "--after: 99999999999999999999999 is out of range [1, 9223372036854775807]");
  for (const char* bad : {"", "abc", "1.5", "5x", " 5", "+-3", "--3", "0x10", "+"}) {
    auto r = ParseInt("--gpus", bad, 0, 64);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().message(), fmt::format("--gpus: '{}' is not a whole number (expected one in [0, 64])", bad));
  }
}

TEST(ArgsTest, ParseDurationFlagChecksTheRange) {
  EXPECT_EQ(*ParseDurationFlag("--timeout", "2h", 0, 365LL * 86400000), 2 * 3600 * 1000);
  auto r = ParseDurationFlag("--timeout", "400d", 0, 365LL * 86400000);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "--timeout: 400d is out of range [0ms, 365d]");
  EXPECT_NE(ParseDurationFlag("--timeout", "soon", 0, 1000).status().message().find("--timeout"), std::string::npos);
}

TEST(ArgsTest, ParseTaskIdWantsAPositiveNumber) {
  EXPECT_EQ(*ParseTaskId("12", "task id"), 12u);
  for (const char* bad : {"0", "-1", "x", "99999999999999999999999"}) {
    auto r = ParseTaskId(bad, "task id");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("is not a task id"), std::string::npos) << r.status().message();
  }
}

}  // namespace
}  // namespace ritsu::cli
