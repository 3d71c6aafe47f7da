#include "worker/line_splitter.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace ritsu::worker {
namespace {

struct Collect {
  std::vector<std::string> lines;
  LineSplitter::LineFn fn() { return [this](std::string_view l) { lines.emplace_back(l); }; }
};

TEST(LineSplitterTest, SplitsLinesAcrossFeeds) {
  Collect c;
  LineSplitter s(c.fn());
  s.Feed("alpha\nbe");
  s.Feed("ta\ngam");
  EXPECT_EQ(c.lines, (std::vector<std::string>{"alpha\n", "beta\n"}));
  s.Feed("ma\n\n");
  EXPECT_EQ(c.lines, (std::vector<std::string>{"alpha\n", "beta\n", "gamma\n", "\n"}));
  EXPECT_EQ(s.buffered(), 0u);
}

TEST(LineSplitterTest, FlushEmitsPartialLastLineOnce) {
  Collect c;
  LineSplitter s(c.fn());
  s.Feed("done\nno newline");
  s.Flush();
  s.Flush();
  EXPECT_EQ(c.lines, (std::vector<std::string>{"done\n", "no newline"}));
}

TEST(LineSplitterTest, LongLineIsCutIntoBoundedPieces) {
  Collect c;
  LineSplitter s(c.fn(), /*max_line=*/8);
  s.Feed(std::string(20, 'x') + "\n");
  ASSERT_EQ(c.lines.size(), 3u);
  EXPECT_EQ(c.lines[0], std::string(8, 'x'));
  EXPECT_EQ(c.lines[1], std::string(8, 'x'));
  EXPECT_EQ(c.lines[2], "xxxx\n");
  EXPECT_LE(s.buffered(), 8u);
}

TEST(LineSplitterTest, BytesAreNeitherLostNorDuplicated) {
  Collect c;
  LineSplitter s(c.fn(), 5);
  std::string input = "a\nbbbbbbbbbbb\ncc\n\nddd";
  for (char ch : input) s.Feed(std::string_view(&ch, 1));
  s.Flush();
  std::string joined;
  for (auto& l : c.lines) joined += l;
  EXPECT_EQ(joined, input);
}

}  // namespace
}  // namespace ritsu::worker
