#include "auth/keys.h"

#include <sys/stat.h>

#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "auth/tests/test_util.h"

namespace ritsu::auth {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;

TEST(Keys, GeneratedPairIsValidAndPublicMatchesSecret) {
  auto kp = GenerateKeyPair();
  ASSERT_TRUE(kp.ok()) << kp.status().ToString();
  EXPECT_TRUE(ValidateZ85Key(kp->public_z85, "pub").ok());
  EXPECT_TRUE(ValidateZ85Key(kp->secret_z85, "sec").ok());
  auto derived = PublicKeyOf(kp->secret_z85);
  ASSERT_TRUE(derived.ok());
  EXPECT_EQ(*derived, kp->public_z85);
  auto other = GenerateKeyPair();
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->secret_z85, kp->secret_z85);
}

TEST(Keys, Z85ValidationNamesTheProblem) {
  Status short_key = ValidateZ85Key("abc", "allowlist x line 2");
  EXPECT_FALSE(short_key.ok());
  EXPECT_THAT(short_key.message(), HasSubstr("allowlist x line 2"));
  EXPECT_THAT(short_key.message(), HasSubstr("got 3"));
  std::string bad(40, 'a');
  bad[7] = '"';  // not in the Z85 alphabet
  Status st = ValidateZ85Key(bad, "k");
  EXPECT_FALSE(st.ok());
  EXPECT_THAT(st.message(), HasSubstr("character 8"));
}

TEST(Keys, WriteThenReadRoundTripsWithSecretMode0600) {
  TempDir dir;
  auto kp = GenerateKeyPair();
  ASSERT_TRUE(kp.ok());
  ASSERT_TRUE(WriteKeyPair(dir.path(), "heart01-mig0", *kp).ok());
  struct stat st {};
  ASSERT_EQ(::stat(dir.File("heart01-mig0.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  auto read = ReadSecretKeyFile(dir.File("heart01-mig0.key"));
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->secret_z85, kp->secret_z85);
  EXPECT_EQ(read->public_z85, kp->public_z85);
  auto pub = ReadPublicKeyFile(dir.File("heart01-mig0.pub"));
  ASSERT_TRUE(pub.ok());
  EXPECT_EQ(*pub, kp->public_z85);
}

TEST(Keys, RefusesToReplaceAnExistingSecretKey) {
  TempDir dir;
  auto a = GenerateKeyPair();
  auto b = GenerateKeyPair();
  ASSERT_TRUE(WriteKeyPair(dir.path(), "n", *a).ok());
  Status st = WriteKeyPair(dir.path(), "n", *b);
  EXPECT_EQ(st.code(), Status::Code::kAlreadyExists);
  EXPECT_EQ(ReadSecretKeyFile(dir.File("n.key"))->secret_z85, a->secret_z85);
  EXPECT_TRUE(WriteKeyPair(dir.path(), "n", *b, /*overwrite=*/true).ok());
  EXPECT_EQ(ReadSecretKeyFile(dir.File("n.key"))->secret_z85, b->secret_z85);
}

TEST(Keys, RejectsKeyNamesThatCouldEscapeTheDirectory) {
  TempDir dir;
  auto kp = GenerateKeyPair();
  EXPECT_FALSE(WriteKeyPair(dir.path(), "../evil", *kp).ok());
  EXPECT_FALSE(WriteKeyPair(dir.path(), "", *kp).ok());
  EXPECT_FALSE(WriteKeyPair(dir.path(), ".hidden", *kp).ok());
}

TEST(Keys, SecretKeyWithLooseModeIsRefusedNamingFileAndMode) {
  TempDir dir;
  auto kp = GenerateKeyPair();
  ASSERT_TRUE(WriteKeyPair(dir.path(), "w", *kp).ok());
  std::string path = dir.File("w.key");
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  auto read = ReadSecretKeyFile(path);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), Status::Code::kPermissionDenied);
  EXPECT_THAT(read.status().message(), HasSubstr(path));
  EXPECT_THAT(read.status().message(), HasSubstr("0644"));
  // Group-readable only is refused too.
  ASSERT_EQ(::chmod(path.c_str(), 0640), 0);
  EXPECT_FALSE(ReadSecretKeyFile(path).ok());
  ASSERT_EQ(::chmod(path.c_str(), 0400), 0);
  EXPECT_TRUE(ReadSecretKeyFile(path).ok());
}

TEST(Keys, MissingOrGarbageSecretKeyFileIsAClearError) {
  TempDir dir;
  auto missing = ReadSecretKeyFile(dir.File("nope.key"));
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr("nope.key"));
  std::string garbage = dir.Write("g.key", "# comment\nnot-a-key\n");
  ::chmod(garbage.c_str(), 0600);
  auto read = ReadSecretKeyFile(garbage);
  ASSERT_FALSE(read.ok());
  EXPECT_THAT(read.status().message(), HasSubstr("g.key"));
}

TEST(Keys, NoValidKeyStartsWithHashSoCommentsAreUnambiguous) {
  // '#' is the last Z85 digit; a 5-character chunk starting with it exceeds 2^32. The key and
  // allowlist parsers rely on this to treat every line starting with '#' as a comment.
  EXPECT_FALSE(ValidateZ85Key("#" + std::string(39, '0'), "k").ok());
  std::string key = GenerateKeyPair()->public_z85;
  EXPECT_EQ(FirstKeyLine("# a comment line\n\n  " + key + "  \n"), key);
}

}  // namespace
}  // namespace ritsu::auth
