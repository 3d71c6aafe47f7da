#include "worker/spool.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "worker/tests/faulty_fs.h"

namespace ritsu::worker {
namespace {

class SpoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("ritsu-spool-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::unique_ptr<Spool> Open(uint64_t compact = 8 << 20) {
    auto s = Spool::Open(dir_.string(), compact);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return std::move(s).value();
  }
  std::filesystem::path file() const { return dir_ / "spool.log"; }
  std::filesystem::path dir_;
};

TEST_F(SpoolTest, PendingSurvivesReopenAndAcksAreRemembered) {
  {
    auto s = Open();
    EXPECT_EQ(*s->Append("one", false), 1u);
    EXPECT_EQ(*s->Append("two", true), 2u);
    EXPECT_EQ(*s->Append(std::string("three\0bin", 9), false), 3u);
    ASSERT_TRUE(s->Ack(2).ok());
    ASSERT_TRUE(s->Ack(99).ok());  // unknown seq: ignored
  }
  auto s = Open();
  ASSERT_EQ(s->pending().size(), 2u);
  EXPECT_EQ(s->pending().at(1), "one");
  EXPECT_EQ(s->pending().at(3), std::string("three\0bin", 9));
  EXPECT_EQ(s->discarded_tail_bytes(), 0u);
  EXPECT_EQ(*s->Append("four", false), 4u);  // numbering continues, never reuses a seq
}

TEST_F(SpoolTest, TornTailIsCutAndEarlierRecordsSurvive) {
  uint64_t good_size = 0;
  {
    auto s = Open();
    ASSERT_TRUE(s->Append("kept-1", false).ok());
    ASSERT_TRUE(s->Append("kept-2", true).ok());
    good_size = s->file_bytes();
    ASSERT_TRUE(s->Append("torn-record-payload", true).ok());
  }
  // Simulate a crash in the middle of writing the last record.
  std::filesystem::resize_file(file(), good_size + 10);
  {
    auto s = Open();
    EXPECT_EQ(s->discarded_tail_bytes(), 10u);
    ASSERT_EQ(s->pending().size(), 2u);
    EXPECT_EQ(s->pending().at(2), "kept-2");
    EXPECT_EQ(s->file_bytes(), good_size);
    EXPECT_EQ(*s->Append("after-crash", true), 3u);
  }
  auto s = Open();
  EXPECT_EQ(s->discarded_tail_bytes(), 0u);
  ASSERT_EQ(s->pending().size(), 3u);
  EXPECT_EQ(s->pending().at(3), "after-crash");
}

TEST_F(SpoolTest, CorruptRecordEndsReplay) {
  {
    auto s = Open();
    ASSERT_TRUE(s->Append("first", false).ok());
    ASSERT_TRUE(s->Append("second", true).ok());
  }
  // Flip a byte inside the second record's payload: its CRC no longer matches.
  auto size = std::filesystem::file_size(file());
  std::fstream f(file(), std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(std::streamoff(size - 2));
  f.put('X');
  f.close();
  auto s = Open();
  ASSERT_EQ(s->pending().size(), 1u);
  EXPECT_EQ(s->pending().at(1), "first");
  EXPECT_GT(s->discarded_tail_bytes(), 0u);
}

TEST_F(SpoolTest, CompactsWhenEverythingIsAckedAndKeepsNumbering) {
  auto s = Open(/*compact=*/256);
  std::string payload(100, 'p');
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(s->Append(payload, false).ok());
  EXPECT_GT(s->file_bytes(), 1000u);
  for (uint64_t seq = 1; seq <= 10; ++seq) ASSERT_TRUE(s->Ack(seq).ok());
  EXPECT_LT(s->file_bytes(), 64u);  // only the base record is left
  EXPECT_EQ(std::filesystem::file_size(file()), s->file_bytes());
  s.reset();
  auto again = Open(256);
  EXPECT_TRUE(again->pending().empty());
  EXPECT_EQ(*again->Append("next", false), 11u);
}

TEST_F(SpoolTest, UnwritableDirectoryIsAClearError) {
  auto s = Spool::Open("/proc/ritsu-cannot-write-here");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("--spool-dir"), std::string::npos) << s.status().ToString();
}

// A full disk: Append fails cleanly (a half-written record is cut off again, a record whose
// fdatasync failed is not kept), and once space returns the spool goes on as if nothing happened.
TEST_F(SpoolTest, FullDiskFailsAppendsCleanlyAndRecovers) {
  FaultyFs fs;
  std::unique_ptr<Spool> s;
  {
    auto opened = Spool::Open(dir_.string(), 8 << 20, &fs);
    ASSERT_TRUE(opened.ok());
    s = std::move(opened).value();
  }
  ASSERT_TRUE(s->Append("one", false).ok());
  uint64_t size = s->file_bytes();
  fs.full = true;
  auto failed = s->Append(std::string(1000, 'x'), false);
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find("No space left"), std::string::npos) << failed.status().ToString();
  EXPECT_EQ(s->file_bytes(), size);
  EXPECT_EQ(std::filesystem::file_size(file()), size) << "half a record was left in the file";
  EXPECT_FALSE(s->Append("synced", true).ok());
  EXPECT_EQ(s->pending().size(), 1u);
  EXPECT_EQ(std::filesystem::file_size(file()), size);

  fs.full = false;  // space returns
  auto two = s->Append("two", true);
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(*two, 2u) << "failed appends must not use up sequence numbers";
  s.reset();
  auto reopened = Open();
  ASSERT_EQ(reopened->pending().size(), 2u);
  EXPECT_EQ(reopened->pending().at(1), "one");
  EXPECT_EQ(reopened->pending().at(2), "two");
  EXPECT_EQ(reopened->discarded_tail_bytes(), 0u);
}

}  // namespace
}  // namespace ritsu::worker
