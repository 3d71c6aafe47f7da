// Reading --train-file: valid, bad, too long and unterminated lines, from a stream and a file.
#include "engine/train/train_jsonl.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

namespace ritsu::train {
namespace {

using ::testing::HasSubstr;

Result<std::vector<RawSample>> Read(const std::string& text, BadLinePolicy policy, ReadReport* report,
                                    size_t max_line = kMaxTrainLineBytes) {
  std::istringstream in(text);
  return ReadTrainJsonl(in, "t.jsonl", policy, report, max_line);
}

TEST(TrainJsonl, ReadsSamplesWithModeAndLineNumbers) {
  ReadReport rep;
  auto r = Read("{\"input\": \"q1\", \"output\": \"a1\", \"meta\": {\"mode\": \"cot\"}}\n"
                "{\"input\": \"q2\", \"output\": \"a2\"}",  // no final newline
                BadLinePolicy::kFail, &rep);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].input, "q1");
  EXPECT_EQ((*r)[0].output, "a1");
  EXPECT_EQ((*r)[0].mode, "cot");
  EXPECT_EQ((*r)[0].line, 1);
  EXPECT_EQ((*r)[1].input, "q2");
  EXPECT_EQ((*r)[1].mode, "");
  EXPECT_EQ((*r)[1].line, 2);
}

TEST(TrainJsonl, BadLinesFailOrAreSkippedNamingFileAndLine) {
  const std::string text =
      "{\"input\": \"q\", \"output\": \"a\"}\n"
      "\n"
      "[1, 2]\n"
      "{\"input\": 3, \"output\": \"a\"}\n"
      "{\"input\": \"q\", \"output\": \"a\", \"meta\": {\"mode\": 1}}\n"
      "{not json\n";
  auto r = Read(text, BadLinePolicy::kFail, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("t.jsonl:2: empty line"));
  ReadReport rep;
  r = Read(text, BadLinePolicy::kSkip, &rep);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->size(), 1u);
  EXPECT_EQ(rep.skipped_lines, 5);
  ASSERT_EQ(rep.messages.size(), 5u);
  EXPECT_THAT(rep.messages[1], HasSubstr("t.jsonl:3: not a JSON object"));
  EXPECT_THAT(rep.messages[2], HasSubstr("t.jsonl:4: \"input\""));
  EXPECT_THAT(rep.messages[3], HasSubstr("t.jsonl:5: \"meta.mode\""));
  EXPECT_THAT(rep.messages[4], HasSubstr("t.jsonl:6: not valid JSON"));
  EXPECT_FALSE(Read("\n\n", BadLinePolicy::kSkip, &rep).ok());  // nothing left: an error
}

// A line over the limit is refused by line number without being held: the limit is what bounds
// the reader's memory (a 50 MB line cost 2.4 GB in train before).
TEST(TrainJsonl, LineOverTheLimitIsRefusedNamingFileAndLine) {
  const std::string small = "{\"input\": \"q\", \"output\": \"a\"}\n";
  const std::string big = "{\"input\": \"" + std::string(300000, 'x') + "\", \"output\": \"a\"}\n";
  auto r = Read(small + big + small, BadLinePolicy::kFail, nullptr, 100000);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("t.jsonl:2: line is " + std::to_string(big.size() - 1) + " bytes"));
  EXPECT_THAT(r.status().message(), HasSubstr("limit of 100000"));
  ReadReport rep;
  r = Read(small + big + small + big.substr(0, big.size() - 1), BadLinePolicy::kSkip, &rep, 100000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[1].line, 3);
  EXPECT_EQ(rep.skipped_lines, 2);  // the last, unterminated one too
  // Exactly at the limit is accepted (the limit counts the line without its newline).
  r = Read(big, BadLinePolicy::kFail, nullptr, big.size() - 1);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)[0].input.size(), 300000u);
  // The default limit is the documented 4 MiB.
  EXPECT_EQ(kMaxTrainLineBytes, size_t{4} << 20);
}

TEST(TrainJsonl, LinesAcrossReadBlocksAndCarriageReturns) {
  // Lines that straddle the reader's 64 KiB blocks, and CRLF line ends.
  std::string text;
  std::vector<size_t> sizes = {10, 65530, 70000, 5, 131072};
  for (size_t s : sizes) text += "{\"input\": \"" + std::string(s, 'y') + "\", \"output\": \"o\"}\r\n";
  auto r = Read(text, BadLinePolicy::kFail, nullptr);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), sizes.size());
  for (size_t i = 0; i < sizes.size(); ++i) EXPECT_EQ((*r)[i].input.size(), sizes[i]) << i;
}

TEST(TrainJsonl, MissingFileIsNotFoundNamingTheFlag) {
  auto r = ReadTrainJsonl("/nonexistent/train.jsonl", BadLinePolicy::kFail, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("--train-file /nonexistent/train.jsonl"));
}

}  // namespace
}  // namespace ritsu::train
