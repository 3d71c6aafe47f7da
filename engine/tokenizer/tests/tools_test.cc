// `ritsu-engine tokenize` / `detokenize` driven through their stream entry points: output
// format, flags, and the messages and exit codes for bad input.
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/tokenizer/tests/qwen_tokenizer_fixture.h"
#include "engine/tokenizer/tests/tiny_tokenizer.h"
#include "engine/tokenizer/tools.h"

namespace ritsu::tokenizer {
namespace {

using ::testing::HasSubstr;

struct ToolRun {
  int rc;
  std::string out;
  std::string err;
};

ToolRun RunTool(bool tokenize, std::vector<std::string> args, const std::string& input) {
  args.insert(args.begin(), tokenize ? "tokenize" : "detokenize");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  std::istringstream in(input);
  std::ostringstream out, err;
  const int rc = tokenize ? RunTokenizeTool(static_cast<int>(argv.size()), argv.data(), in, out, err)
                          : RunDetokenizeTool(static_cast<int>(argv.size()), argv.data(), in, out, err);
  return {rc, out.str(), err.str()};
}

class ToolsTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_.Write("tokenizer.json", testing::TinyTokenizerJson().dump()); }
  testing::TempDir dir_;
};

TEST_F(ToolsTest, TokenizeOneArrayPerLine) {
  const ToolRun r = RunTool(true, {"--model", dir_.path()}, "\"abc\"\n\"a<|im_end|>b\"\n\"\"\n");
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "[257]\n[97,262,98]\n[]\n");
}

TEST_F(ToolsTest, DetokenizeOneStringPerLineAndSkipsSpecial) {
  EXPECT_EQ(RunTool(false, {"--model", dir_.path()}, "[261,257]\n[]\n").out, "\"<|im_start|>abc\"\n\"\"\n");
  EXPECT_EQ(RunTool(false, {"--model=" + dir_.path(), "--skip-special-tokens"}, "[261,257,263]\n").out, "\"abc<x>\"\n");
}

TEST_F(ToolsTest, BadLinesAreNamedWithExitCode1) {
  ToolRun r = RunTool(true, {"--model", dir_.path()}, "\"ok\"\nnot json\n");
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.out, "[111,107]\n");  // the good line before the bad one was answered ('o','k')
  EXPECT_THAT(r.err, HasSubstr("stdin line 2: not valid JSON"));
  r = RunTool(true, {"--model", dir_.path()}, "[1,2]\n");
  EXPECT_EQ(r.rc, 1);
  EXPECT_THAT(r.err, HasSubstr("stdin line 1: expected a JSON string, got array"));
  r = RunTool(false, {"--model", dir_.path()}, "[1, 99999]\n");
  EXPECT_EQ(r.rc, 1);
  EXPECT_THAT(r.err, HasSubstr("stdin line 1: element 1 (99999) is not a token id in [0, 264)"));
  r = RunTool(false, {"--model", dir_.path()}, "[1, \"x\"]\n");
  EXPECT_EQ(r.rc, 1);
  EXPECT_THAT(r.err, HasSubstr("element 1 (\"x\")"));
}

TEST_F(ToolsTest, UsageErrorsExitWith2) {
  ToolRun r = RunTool(true, {}, "");
  EXPECT_EQ(r.rc, 2);
  EXPECT_THAT(r.err, HasSubstr("--model is required"));
  r = RunTool(true, {"--model", dir_.path(), "--bogus"}, "");
  EXPECT_EQ(r.rc, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown argument '--bogus'"));
  r = RunTool(true, {"--model", dir_.path() + "/nowhere"}, "");
  EXPECT_EQ(r.rc, 2);
  EXPECT_THAT(r.err, HasSubstr("nowhere"));
  r = RunTool(false, {"--help"}, "");
  EXPECT_EQ(r.rc, 0);
  EXPECT_THAT(r.out, HasSubstr("usage: ritsu-engine detokenize"));
}

TEST(ToolsQwen, TokenizeRealTokenizerMatchesLibrary) {
  const std::string text = "第一項の規定により <|im_end|> 👍🏽";
  const ToolRun r = RunTool(true, {"--model", testing::QwenTokenizerDir(), "--add-special-tokens"},
                        nlohmann::json(text).dump() + "\n");
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, nlohmann::json(testing::QwenTokenizer().Encode(text)).dump() + "\n");
}

}  // namespace
}  // namespace ritsu::tokenizer
