#include "auth/key_commands.h"

#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "auth/keys.h"
#include "auth/tests/test_util.h"

namespace ritsu::auth {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::TempDir;

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(KeyCommands, KeygenWritesBothFilesAndSaysWhatToDoNext) {
  TempDir dir;
  auto out = Keygen(dir.path(), "alice", false);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  auto pub = ReadPublicKeyFile(dir.File("alice.pub"));
  ASSERT_TRUE(pub.ok());
  EXPECT_THAT(*out, HasSubstr(*pub));
  EXPECT_THAT(*out, HasSubstr("ritsu keys add"));
  EXPECT_TRUE(ReadSecretKeyFile(dir.File("alice.key")).ok());
  EXPECT_FALSE(Keygen(dir.path(), "alice", false).ok());  // never replaces a secret key silently
}

TEST(KeyCommands, AddAndRevokeKeepOtherLinesAsTheyAre) {
  TempDir dir;
  std::string w = GenerateKeyPair()->public_z85;
  std::string managed = "# BEGIN ritsu hosts (managed by Ansible)\n" + w +
                        " worker heart01-worker\n# END ritsu hosts (managed by Ansible)\n";
  std::string path = dir.Write("allowlist", managed);
  ::chmod(path.c_str(), 0640);
  ASSERT_TRUE(Keygen(dir.path(), "bob", false).ok());

  ASSERT_TRUE(KeysAdd(path, dir.File("bob.pub"), Role::kRead, "bob").ok());  // from a .pub file
  std::string carol = GenerateKeyPair()->public_z85;
  ASSERT_TRUE(KeysAdd(path, carol, Role::kSubmit, "carol").ok());            // from a Z85 key
  std::string text = Slurp(path);
  EXPECT_EQ(text.substr(0, managed.size()), managed);
  auto list = Allowlist::Load(path);
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->FindByName("bob")->role, Role::kRead);
  EXPECT_EQ(list->FindByName("carol")->public_key, carol);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);

  ASSERT_TRUE(KeysRevoke(path, "bob").ok());
  text = Slurp(path);
  EXPECT_EQ(text.substr(0, managed.size()), managed);
  EXPECT_THAT(text, Not(HasSubstr(" bob\n")));
  EXPECT_THAT(text, HasSubstr(" carol\n"));
  EXPECT_EQ(KeysRevoke(path, "bob").code(), Status::Code::kNotFound);
  ASSERT_TRUE(KeysRevoke(path, carol).ok());  // by key
  EXPECT_EQ(Allowlist::Load(path)->entries().size(), 1u);
}

TEST(KeyCommands, BadAddsAreRefusedAndLeaveTheFileAlone) {
  TempDir dir;
  std::string k = GenerateKeyPair()->public_z85;
  std::string path = dir.Write("allowlist", k + " submit alice\n");
  std::string before = Slurp(path);
  EXPECT_FALSE(KeysAdd(path, k, Role::kRead, "alice2").ok());                 // key listed
  EXPECT_FALSE(KeysAdd(path, GenerateKeyPair()->public_z85, Role::kRead, "alice").ok());  // name
  Status garbage = KeysAdd(path, "not-a-key", Role::kRead, "x");
  EXPECT_FALSE(garbage.ok());
  EXPECT_THAT(garbage.message(), HasSubstr("neither a Z85 public key"));
  EXPECT_EQ(Slurp(path), before);
}

TEST(KeyCommands, ListShowsNamesRolesAndSaysWhenEmpty) {
  TempDir dir;
  std::string path = dir.Write("allowlist", "# nobody\n");
  EXPECT_THAT(*KeysList(path), HasSubstr("nobody can connect"));
  std::string k = GenerateKeyPair()->public_z85;
  ASSERT_TRUE(KeysAdd(path, k, Role::kWorker, "w1").ok());
  EXPECT_THAT(*KeysList(path), HasSubstr("w1"));
  EXPECT_THAT(*KeysList(path), HasSubstr(k));
}

}  // namespace
}  // namespace ritsu::auth
