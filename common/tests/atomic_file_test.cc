// The atomic-write helper against the fault-injecting file system (every failure point, and a
// crash after each) and against the real one (modes, errors, directory replacement).
#include "common/atomic_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "common/fault_fs.h"

namespace ritsu {
namespace {

using ::testing::HasSubstr;
using Op = FaultInjectingFileSystem::Op;

const std::string kOld = "old contents\n";
const std::string kNew = std::string(1000, 'n') + "\n";

TEST(FaultFs, CrashDropsWhatWasNotSynced) {
  // The fake must catch a writer that skips an fsync, or the tests below prove nothing.
  FaultInjectingFileSystem fs;
  fs.PutDurableFile("/d/f", kOld);
  {  // write + rename, no fsync at all: the rename is lost
    auto f = fs.NewFile("/d/f.tmp", 0644);
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->Append(kNew).ok());
    ASSERT_TRUE(fs.Rename("/d/f.tmp", "/d/f").ok());
    EXPECT_EQ(fs.Contents("/d/f"), kNew);
    fs.Crash();
    EXPECT_EQ(fs.Contents("/d/f"), kOld);
  }
  {  // rename made durable but the data never synced: a torn (empty) file
    auto f = fs.NewFile("/d/f.tmp", 0644);
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->Append(kNew).ok());
    ASSERT_TRUE(fs.Rename("/d/f.tmp", "/d/f").ok());
    ASSERT_TRUE(fs.SyncPath("/d").ok());
    fs.Crash();
    EXPECT_EQ(fs.Contents("/d/f"), "");
  }
}

TEST(AtomicFile, WritesAndSurvivesACrash) {
  FaultInjectingFileSystem fs;
  fs.PutDurableFile("/d/f", kOld);
  ASSERT_TRUE(WriteFileAtomic("/d/f", kNew, 0644, fs).ok());
  EXPECT_EQ(fs.Contents("/d/f"), kNew);
  EXPECT_EQ(*fs.List("/d"), std::vector<std::string>{"f"});  // no temporary left
  fs.Crash();
  EXPECT_EQ(fs.Contents("/d/f"), kNew);
  ASSERT_TRUE(WriteFileAtomic("/d/g", "x", 0644, fs).ok());  // a new file, too
  fs.Crash();
  EXPECT_EQ(fs.Contents("/d/g"), "x");
}

TEST(AtomicFile, FullDiskLeavesTheOldFileAndNamesPathAndErrno) {
  FaultInjectingFileSystem fs;
  fs.PutDurableFile("/d/metrics.json", kOld);
  fs.FailNth(Op::kAppend, 1, ENOSPC);
  Status st = WriteFileAtomic("/d/metrics.json", kNew, 0644, fs);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), Status::Code::kIOError);
  EXPECT_THAT(st.message(), HasSubstr("/d/metrics.json"));
  EXPECT_THAT(st.message(), HasSubstr(std::strerror(ENOSPC)));
  EXPECT_EQ(fs.Contents("/d/metrics.json"), kOld);
  EXPECT_EQ(*fs.List("/d"), std::vector<std::string>{"metrics.json"});
}

TEST(AtomicFile, FailedFsyncLeavesTheOldFile) {
  FaultInjectingFileSystem fs;
  fs.PutDurableFile("/d/f", kOld);
  fs.FailNth(Op::kSync, 1, EIO);
  Status st = WriteFileAtomic("/d/f", kNew, 0644, fs);
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.message(), HasSubstr("fsync /d/f.tmp."));
  EXPECT_THAT(st.message(), HasSubstr(std::strerror(EIO)));
  EXPECT_EQ(fs.Contents("/d/f"), kOld);
  EXPECT_EQ(*fs.List("/d"), std::vector<std::string>{"f"});
}

// Every operation of the write fails in turn; after each, and after a crash on top, the final
// name holds the old or the new contents in full, and a reported success survives the crash.
TEST(AtomicFile, EveryFailurePointKeepsOldOrNew) {
  for (Op op : {Op::kCreate, Op::kAppend, Op::kSync, Op::kRename, Op::kSyncPath}) {
    for (int err : {ENOSPC, EIO}) {
      FaultInjectingFileSystem fs;
      fs.PutDurableFile("/d/f", kOld);
      fs.FailNth(op, 1, err);
      Status st = WriteFileAtomic("/d/f", kNew, 0644, fs);
      const auto now = fs.Contents("/d/f");
      SCOPED_TRACE(::testing::Message() << "op " << static_cast<int>(op) << " errno " << err << ": " << st.ToString());
      EXPECT_FALSE(st.ok());  // every operation is used exactly once, so each failure is seen
      EXPECT_THAT(st.message(), HasSubstr(std::strerror(err)));
      ASSERT_TRUE(now == kOld || now == kNew);
      if (op != Op::kSyncPath) {
        EXPECT_EQ(now, kOld);
      }
      fs.Crash();
      const auto after = fs.Contents("/d/f");
      EXPECT_TRUE(after == kOld || after == kNew);
    }
  }
}

TEST(AtomicFile, StreamedWriterRemovesItsTemporaryWhenDropped) {
  FaultInjectingFileSystem fs;
  fs.MakeDirDurable("/d");
  {
    auto w = AtomicFileWriter::Create("/d/big", 0644, fs);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(w->Append("part1").ok());
    EXPECT_TRUE(fs.Exists(w->temp_path()));
  }  // never committed
  EXPECT_TRUE(fs.List("/d")->empty());
  auto w = AtomicFileWriter::Create("/d/big", 0644, fs);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(w->Append("part1,").ok());
  ASSERT_TRUE(w->Append("part2").ok());
  ASSERT_TRUE(w->Commit().ok());
  EXPECT_EQ(fs.Contents("/d/big"), "part1,part2");
  EXPECT_FALSE(w->Commit().ok());
}

void MakeDirWithFile(FaultInjectingFileSystem& fs, const std::string& dir, const std::string& contents) {
  fs.MakeDirDurable(dir);  // the directory exists; the file in it is not synced
  auto f = fs.NewFile(dir + "/model.safetensors", 0644);
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE((*f)->Append(contents).ok());
}

TEST(AtomicDir, ReplacesADirectoryDurably) {
  FaultInjectingFileSystem fs;
  fs.PutDurableFile("/out/m/model.safetensors", kOld);
  MakeDirWithFile(fs, "/out/.m.tmp", kNew);
  ASSERT_TRUE(ReplaceDirAtomic("/out/.m.tmp", "/out/m", fs).ok());
  EXPECT_EQ(fs.Contents("/out/m/model.safetensors"), kNew);
  EXPECT_EQ(*fs.List("/out"), std::vector<std::string>{"m"});  // temp and old are gone
  fs.Crash();
  EXPECT_EQ(fs.Contents("/out/m/model.safetensors"), kNew);  // files were synced before the rename
}

TEST(AtomicDir, FailedRenameRestoresTheOldDirectory) {
  FaultInjectingFileSystem fs;
  fs.PutDurableFile("/out/m/model.safetensors", kOld);
  MakeDirWithFile(fs, "/out/.m.tmp", kNew);
  fs.FailNth(Op::kRename, 2, EIO);  // the first rename moves the old one aside; the second fails
  Status st = ReplaceDirAtomic("/out/.m.tmp", "/out/m", fs);
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.message(), HasSubstr("/out/m"));
  EXPECT_THAT(st.message(), HasSubstr(std::strerror(EIO)));
  EXPECT_EQ(fs.Contents("/out/m/model.safetensors"), kOld);
}

TEST(AtomicDir, FailedFsyncOfAFileStopsBeforeAnyRename) {
  FaultInjectingFileSystem fs;
  fs.PutDurableFile("/out/m/model.safetensors", kOld);
  MakeDirWithFile(fs, "/out/.m.tmp", kNew);
  fs.FailNth(Op::kSyncPath, 1, EIO);
  ASSERT_FALSE(ReplaceDirAtomic("/out/.m.tmp", "/out/m", fs).ok());
  EXPECT_EQ(fs.Calls(Op::kRename), 0);
  EXPECT_EQ(fs.Contents("/out/m/model.safetensors"), kOld);
}

class RealDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("ritsu_atomic_" + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string P(const std::string& n) const { return (dir_ / n).string(); }
  static std::string Read(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
  }
  std::filesystem::path dir_;
};

TEST_F(RealDir, WritesWithExactModeAndReplaces) {
  ASSERT_TRUE(WriteFileAtomic(P("k.key"), kOld, 0600).ok());
  ASSERT_TRUE(WriteFileAtomic(P("k.key"), kNew, 0600).ok());
  EXPECT_EQ(Read(P("k.key")), kNew);
  struct stat st {};
  ASSERT_EQ(::stat(P("k.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_), {}), 1);
}

TEST_F(RealDir, MissingDirectoryNamesPathAndErrno) {
  Status st = WriteFileAtomic(P("absent/f.json"), "x");
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.message(), HasSubstr(P("absent/f.json")));
  EXPECT_THAT(st.message(), HasSubstr(std::strerror(ENOENT)));
}

TEST_F(RealDir, ReplaceDirAtomicSwapsDirectories) {
  std::filesystem::create_directories(P("out"));
  std::ofstream(P("out/a")) << "old";
  std::filesystem::create_directories(P(".out.tmp/sub"));
  std::ofstream(P(".out.tmp/a")) << "new";
  std::ofstream(P(".out.tmp/sub/b")) << "b";
  ASSERT_TRUE(ReplaceDirAtomic(P(".out.tmp"), P("out")).ok());
  EXPECT_EQ(Read(P("out/a")), "new");
  EXPECT_EQ(Read(P("out/sub/b")), "b");
  EXPECT_FALSE(std::filesystem::exists(P(".out.tmp")));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_), {}), 1);  // no .old left
  ASSERT_FALSE(ReplaceDirAtomic(P("missing.tmp"), P("out")).ok());
  EXPECT_EQ(Read(P("out/a")), "new");
}

TEST(ParentDirTest, Cases) {
  EXPECT_EQ(ParentDir("a/b/c"), "a/b");
  EXPECT_EQ(ParentDir("c"), ".");
  EXPECT_EQ(ParentDir("/c"), "/");
  EXPECT_EQ(ParentDir("out/"), ".");
}

}  // namespace
}  // namespace ritsu
