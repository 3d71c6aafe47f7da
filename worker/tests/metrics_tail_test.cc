#include "worker/metrics_tail.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace ritsu::worker {
namespace {

class MetricsTailTest : public ::testing::Test {
 protected:
  MetricsTailTest() {
    path_ = (std::filesystem::temp_directory_path() / ("ritsu-series-" + std::to_string(::getpid()) + ".jsonl")).string();
    std::filesystem::remove(path_);
  }
  ~MetricsTailTest() override { std::filesystem::remove(path_); }
  void Append(const std::string& s) {
    std::ofstream out(path_, std::ios::app | std::ios::binary);
    out << s;
  }
  std::string path_;
};

TEST_F(MetricsTailTest, HandsOnCompleteObjectLinesOnlyAndDropsTheRestWithNotes) {
  MetricsTail tail(path_);
  std::vector<std::string> notes;
  EXPECT_EQ(tail.Poll(false, &notes), "") << "no file yet";
  Append("{\"step\": 1, \"loss\": 2.5}\n{\"step\":");
  EXPECT_EQ(tail.Poll(false, &notes), "{\"loss\":2.5,\"step\":1}\n");
  Append(" 2}\n[1,2]\n\n");
  EXPECT_EQ(tail.Poll(false, &notes), "{\"step\":2}\n") << "a partial line waits for its end";
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("not one JSON object"), std::string::npos) << notes[0];
  Append(std::string(kMaxMetricsLineBytes + 10, 'x') + "\n{\"step\":3}\n{\"step\":4");
  EXPECT_EQ(tail.Poll(false, &notes), "{\"step\":3}\n");
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_NE(notes[1].find("longer than"), std::string::npos) << notes[1];
  EXPECT_EQ(tail.Poll(true, &notes), "") << "a torn last line is dropped at the end";
  ASSERT_EQ(notes.size(), 3u);
  EXPECT_NE(notes[2].find("unfinished last line"), std::string::npos) << notes[2];
}

TEST_F(MetricsTailTest, FinalPollReadsEverythingLeftBeyondOneRead) {
  std::string all;
  for (int i = 0; i < 200; ++i) all += "{\"step\":" + std::to_string(i) + "}\n";
  Append(all);
  MetricsTail tail(path_);
  std::vector<std::string> notes;
  EXPECT_EQ(tail.Poll(true, &notes, /*max_bytes=*/100), all);
  EXPECT_TRUE(notes.empty());
}

}  // namespace
}  // namespace ritsu::worker
