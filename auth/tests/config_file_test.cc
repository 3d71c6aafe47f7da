#include "auth/config_file.h"

#include <sys/stat.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "auth/tests/test_util.h"

namespace ritsu::auth {
namespace {

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;
using ::testing::HasSubstr;
using testing::TempDir;

TEST(ConfigFile, KeysBecomeFlags) {
  TempDir dir;
  std::string path = dir.Write("w.toml",
                               "# worker\n"
                               "scheduler = \"tcp://10.0.0.1:7070\"\n"
                               "insecure = false\n"
                               "check = true\n"
                               "port = 7070\n"
                               "tags = [\"a100\", \"mig\"]\n"
                               "odd = \"--looks-like-a-flag\"\n");
  auto args = ConfigFileArgs(path);
  ASSERT_TRUE(args.ok()) << args.status().ToString();
  EXPECT_THAT(*args, UnorderedElementsAre("--scheduler=tcp://10.0.0.1:7070", "--check", "--port=7070",
                                 "--tags=a100", "--tags=mig", "--odd=--looks-like-a-flag"));
}

TEST(ConfigFile, AConfigOthersCouldWriteIsRefused) {
  TempDir dir;
  std::string path = dir.Write("w.toml", "scheduler = \"tcp://127.0.0.1:7070\"\n");
  ASSERT_EQ(::chmod(path.c_str(), 0646), 0);
  auto args = ConfigFileArgs(path);
  ASSERT_FALSE(args.ok());
  EXPECT_THAT(args.status().message(), HasSubstr("config file " + path));
  EXPECT_THAT(args.status().message(), HasSubstr("0646"));
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  EXPECT_TRUE(ConfigFileArgs(path).ok());
}

TEST(ConfigFile, CommandLineWinsOverTheFile) {
  std::vector<std::string> config{"--scheduler=tcp://a:1", "--name=w1", "--tags=x"};
  std::vector<std::string> cli{"--name", "w2", "--tags=y", "--", "--scheduler", "ignored"};
  EXPECT_THAT(MergeConfigArgs(config, cli),
              ElementsAre("--scheduler=tcp://a:1", "--name", "w2", "--tags=y", "--", "--scheduler",
                          "ignored"));
}

TEST(ConfigFile, ExpandConfigFlagReadsTheFileAndDropsTheFlag) {
  TempDir dir;
  std::string path = dir.Write("d.toml", "listen = \"tcp://127.0.0.1:7070\"\ninsecure = true\n");
  auto args = ExpandConfigFlag({"--config", path, "--data-dir", "/tmp/x"});
  ASSERT_TRUE(args.ok()) << args.status().ToString();
  // Config flags (in key order) come first, then the command line.
  EXPECT_THAT(*args, ElementsAre("--insecure", "--listen=tcp://127.0.0.1:7070", "--data-dir", "/tmp/x"));
  auto eq = ExpandConfigFlag({"--config=" + path, "--listen", "tcp://0:1"});
  ASSERT_TRUE(eq.ok());
  EXPECT_THAT(*eq, ElementsAre("--insecure", "--listen", "tcp://0:1"));
  auto none = ExpandConfigFlag({"--listen", "x"});
  ASSERT_TRUE(none.ok());
  EXPECT_THAT(*none, ElementsAre("--listen", "x"));
}

TEST(ConfigFile, BadFilesAreClearErrors) {
  TempDir dir;
  auto missing = ExpandConfigFlag({"--config", dir.File("nope.toml")});
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr("nope.toml"));

  std::string broken = dir.Write("broken.toml", "listen = \"tcp://x\"\nname = \n");
  auto parse = ConfigFileArgs(broken);
  ASSERT_FALSE(parse.ok());
  EXPECT_THAT(parse.status().message(), HasSubstr("broken.toml line 2"));

  std::string nested = dir.Write("nested.toml", "[server]\nlisten = \"x\"\n");
  auto table = ConfigFileArgs(nested);
  ASSERT_FALSE(table.ok());
  EXPECT_THAT(table.status().message(), HasSubstr("key 'server'"));

  EXPECT_FALSE(ExpandConfigFlag({"--config"}).ok());
}

}  // namespace
}  // namespace ritsu::auth
