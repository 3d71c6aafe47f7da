#include "auth/allowlist.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "auth/keys.h"
#include "auth/tests/test_util.h"

namespace ritsu::auth {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;

std::string NewKey() { return GenerateKeyPair()->public_z85; }

TEST(Allowlist, ParsesEntriesCommentsAndBlankLines) {
  std::string w = NewKey(), s = NewKey(), r = NewKey();
  std::string text = "# lab keys\n\n" + w + " worker heart01-mig0\n" + "  " + s +
                     "\tsubmit  alice   # Alice's laptop\n" + r + " read viewer\r\n";
  auto list = Allowlist::Parse(text, "test");
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->entries().size(), 3u);
  EXPECT_EQ(list->FindByKey(w)->role, Role::kWorker);
  EXPECT_EQ(list->FindByKey(w)->name, "heart01-mig0");
  EXPECT_EQ(list->FindByName("alice")->public_key, s);
  EXPECT_EQ(list->FindByName("viewer")->role, Role::kRead);
  EXPECT_EQ(list->FindByKey(NewKey()), nullptr);
}

TEST(Allowlist, FilesOthersCouldWriteAreRefusedAsSshDoes) {
  TempDir dir;
  std::string path = dir.Write("allowlist", NewKey() + " submit alice\n");
  ASSERT_EQ(::chmod(path.c_str(), 0640), 0);
  ASSERT_TRUE(Allowlist::Load(path).ok());
  for (mode_t bad : {0666, 0620, 0602}) {
    ASSERT_EQ(::chmod(path.c_str(), bad), 0);
    auto list = Allowlist::Load(path);
    ASSERT_FALSE(list.ok()) << fmt::format("{:o}", bad);
    EXPECT_EQ(list.status().code(), Status::Code::kPermissionDenied);
    EXPECT_THAT(list.status().message(), HasSubstr(path));
    EXPECT_THAT(list.status().message(), HasSubstr(fmt::format("{:04o}", bad)));
  }
  // A directory others could write lets them replace the file: refused too, naming it.
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  ASSERT_EQ(::chmod(dir.path().c_str(), 0777), 0);
  auto list = Allowlist::Load(path);
  ASSERT_FALSE(list.ok());
  EXPECT_THAT(list.status().message(), HasSubstr("its directory " + dir.path()));
  // ...unless it is sticky, like /tmp, where others cannot replace a file they do not own.
  ASSERT_EQ(::chmod(dir.path().c_str(), 01777), 0);
  EXPECT_TRUE(Allowlist::Load(path).ok());
  ASSERT_EQ(::chmod(dir.path().c_str(), 0700), 0);
}

TEST(Allowlist, FileOwnedByAnotherUserIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give the file to another user";
  TempDir dir;
  std::string path = dir.Write("allowlist", NewKey() + " submit alice\n");
  ASSERT_EQ(::chown(path.c_str(), 65534, 65534), 0);  // nobody
  auto list = Allowlist::Load(path);
  ASSERT_FALSE(list.ok());
  EXPECT_THAT(list.status().message(), HasSubstr("owned by uid 65534"));
}

TEST(Allowlist, EmptyTextIsAnEmptyList) {
  auto list = Allowlist::Parse("# nobody yet\n\n", "test");
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->empty());
}

TEST(Allowlist, MalformedLinesAreRefusedNamingFileAndLine) {
  std::string k = NewKey();
  struct Case {
    std::string line;
    std::string expect;
  };
  for (const Case& c : std::vector<Case>{
           {k + " worker", "got 2 field(s)"},
           {k + " admin bob", "role 'admin'"},
           {"tooshort worker bob", "40 Z85 characters"},
           {k + " read bad/name", "name 'bad/name'"},
           {k + " read a b", "got 4 field(s)"},
       }) {
    auto list = Allowlist::Parse("# header\n" + c.line + "\n", "/etc/ritsu/allowlist");
    ASSERT_FALSE(list.ok()) << c.line;
    EXPECT_THAT(list.status().message(), HasSubstr("/etc/ritsu/allowlist line 2")) << c.line;
    EXPECT_THAT(list.status().message(), HasSubstr(c.expect)) << c.line;
  }
}

TEST(Allowlist, DuplicateKeyOrNameIsRefused) {
  std::string k = NewKey();
  auto dup_key = Allowlist::Parse(k + " read a\n" + k + " read b\n", "f");
  ASSERT_FALSE(dup_key.ok());
  EXPECT_THAT(dup_key.status().message(), HasSubstr("line 2"));
  auto dup_name = Allowlist::Parse(k + " read a\n" + NewKey() + " read a\n", "f");
  ASSERT_FALSE(dup_name.ok());
  EXPECT_THAT(dup_name.status().message(), HasSubstr("name 'a' already listed"));
}

TEST(Allowlist, AddRevokeSaveLoadRoundTrip) {
  TempDir dir;
  Allowlist list;
  std::string a = NewKey(), b = NewKey();
  ASSERT_TRUE(list.Add({a, Role::kWorker, "w1"}).ok());
  ASSERT_TRUE(list.Add({b, Role::kSubmit, "alice"}).ok());
  EXPECT_EQ(list.Add({a, Role::kRead, "again"}).code(), Status::Code::kAlreadyExists);
  EXPECT_EQ(list.Add({NewKey(), Role::kRead, "alice"}).code(), Status::Code::kAlreadyExists);
  EXPECT_FALSE(list.Add({"nope", Role::kRead, "x"}).ok());

  std::string path = dir.File("allowlist");
  ASSERT_TRUE(SaveAllowlist(path, list).ok());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  auto loaded = Allowlist::Load(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->entries().size(), 2u);
  EXPECT_EQ(loaded->FindByName("alice")->public_key, b);

  ASSERT_TRUE(list.Revoke("w1").ok());      // by name
  ASSERT_TRUE(list.Revoke(b).ok());         // by key
  EXPECT_EQ(list.Revoke("w1").code(), Status::Code::kNotFound);
  EXPECT_TRUE(list.empty());
}

TEST(Allowlist, MissingFileIsAnErrorNamingIt) {
  auto list = Allowlist::Load("/nonexistent/ritsu/allowlist");
  ASSERT_FALSE(list.ok());
  EXPECT_THAT(list.status().message(), HasSubstr("/nonexistent/ritsu/allowlist"));
}

}  // namespace
}  // namespace ritsu::auth
