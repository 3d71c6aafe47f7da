#include "common/spec_check.h"

#include <gtest/gtest.h>

namespace ritsu {
namespace {

TaskSpec Good() {
  TaskSpec s;
  s.name = "評価 eval-v1";
  s.argv = {"python", "eval.py"};
  return s;
}

// The message of ValidateSpec(s, "tasks[3]"), or "" when it passes.
std::string Problem(const TaskSpec& s) {
  Status st = ValidateSpec(s, "tasks[3]");
  return st.ok() ? "" : st.message();
}

bool Starts(const std::string& text, const std::string& prefix) { return text.rfind(prefix, 0) == 0; }

TEST(SpecCheckTest, AGoodSpecPassesAndEveryFieldIsNamed) {
  EXPECT_EQ(Problem(Good()), "");
  TaskSpec s;
  EXPECT_TRUE(Starts(Problem(s), "tasks[3].argv: empty")) << Problem(s);
  EXPECT_TRUE(Starts(ValidateSpec(s, "").message(), "argv: empty")) << ValidateSpec(s, "").message();
  s = Good();
  s.max_attempts = 0;
  EXPECT_TRUE(Starts(Problem(s), "tasks[3].max_attempts")) << Problem(s);
  s = Good();
  s.env["A=B"] = "x";
  EXPECT_TRUE(Starts(Problem(s), "tasks[3].env")) << Problem(s);
}

TEST(SpecCheckTest, SizesAreBoundedAtTheDocumentedLimits) {
  TaskSpec s = Good();
  s.name = std::string(kMaxNameBytes, 'n');
  EXPECT_EQ(Problem(s), "");
  s.name += "n";
  EXPECT_EQ(Problem(s), "tasks[3].name: 257 bytes, over the limit of 256");

  s = Good();
  for (size_t i = 0; i < kMaxLabels; ++i) s.labels["k" + std::to_string(i)] = "v";
  EXPECT_EQ(Problem(s), "");
  s.labels["one-more"] = "v";
  EXPECT_TRUE(Starts(Problem(s), "tasks[3].labels: 65 labels")) << Problem(s);

  s = Good();
  s.labels[std::string(kMaxLabelBytes + 1, 'k')] = "v";
  EXPECT_TRUE(Starts(Problem(s), "tasks[3].labels key: 257 bytes")) << Problem(s);
  s = Good();
  s.labels["k"] = std::string(kMaxLabelBytes + 1, 'v');
  EXPECT_TRUE(Starts(Problem(s), "tasks[3].labels[k]: 257 bytes")) << Problem(s);

  s = Good();
  s.argv.assign(kMaxArgvEntries + 1, "x");
  EXPECT_TRUE(Starts(Problem(s), "tasks[3].argv: 4097 entries")) << Problem(s);
  s.argv = {"x", std::string(kMaxArgvBytes, 'a')};
  EXPECT_TRUE(Starts(Problem(s), "tasks[3].argv: 1048577 bytes in all")) << Problem(s);

  s = Good();
  s.env["BIG"] = std::string(kMaxEnvBytes, 'e');
  EXPECT_TRUE(Starts(Problem(s), "tasks[3].env: 1048579 bytes in all")) << Problem(s);
  s = Good();
  for (size_t i = 0; i <= kMaxEnvEntries; ++i) s.env["V" + std::to_string(i)] = "";
  EXPECT_TRUE(Starts(Problem(s), "tasks[3].env: 4097 variables")) << Problem(s);

  s = Good();
  s.cwd = "/" + std::string(kMaxCwdBytes, 'd');
  EXPECT_TRUE(Starts(Problem(s), "tasks[3].cwd: 4097 bytes")) << Problem(s);

  s = Good();
  s.resources.tags.assign(kMaxTags + 1, "a100");
  EXPECT_TRUE(Starts(Problem(s), "tasks[3].resources.tags: 65 tags")) << Problem(s);
  s = Good();
  s.resources.host = std::string(kMaxTagBytes + 1, 'h');
  EXPECT_TRUE(Starts(Problem(s), "tasks[3].resources.host: 257 bytes")) << Problem(s);
}

TEST(SpecCheckTest, NumbersAreRangeChecked) {
  TaskSpec s = Good();
  s.priority = kMaxPriority;
  EXPECT_EQ(Problem(s), "");
  s.priority = kMinPriority - 1;
  EXPECT_EQ(Problem(s), "tasks[3].priority: -1000001 is out of range [-1000000, 1000000]");
  s = Good();
  s.max_attempts = kMaxAttempts + 1;
  EXPECT_EQ(Problem(s), "tasks[3].max_attempts: 101 is out of range [1, 100]");
  s = Good();
  s.timeout_ms = kMaxTimeoutMs;
  EXPECT_EQ(Problem(s), "");
  s.timeout_ms = kMaxTimeoutMs + 1;
  EXPECT_TRUE(Starts(Problem(s), "tasks[3].timeout_ms: 31536000001 is out of range")) << Problem(s);
  s.timeout_ms = -1;
  EXPECT_TRUE(Starts(Problem(s), "tasks[3].timeout_ms: -1 is out of range")) << Problem(s);
  s = Good();
  s.resources.gpus = kMaxGpus + 1;
  EXPECT_TRUE(Starts(Problem(s), "tasks[3].resources.gpus")) << Problem(s);
  s = Good();
  s.after.assign(kMaxDependencies + 1, 1);
  EXPECT_TRUE(Starts(Problem(s), "tasks[3].after: 10001 dependencies")) << Problem(s);
}

TEST(SpecCheckTest, ShownTextMustBeUtf8WithoutControls) {
  TaskSpec s = Good();
  s.name = "bad\xff name";
  EXPECT_EQ(Problem(s), "tasks[3].name: 'bad\\xff name': invalid UTF-8 at byte 3");
  s.name = "\xc0\xaf";  // overlong '/'
  EXPECT_NE(Problem(s), "");
  s.name = "\xed\xa0\x80";  // a UTF-16 surrogate
  EXPECT_NE(Problem(s), "");
  s.name = "two\nlines";
  EXPECT_EQ(Problem(s), "tasks[3].name: 'two\\x0alines': control character U+000A at byte 3");
  s = Good();
  s.labels["trial\xfe"] = "1";
  EXPECT_TRUE(Starts(Problem(s), "tasks[3].labels key: 'trial\\xfe'")) << Problem(s);
  s = Good();
  s.labels["lr"] = "\x80";
  EXPECT_TRUE(Starts(Problem(s), "tasks[3].labels[lr]: '\\x80': invalid UTF-8")) << Problem(s);
  s = Good();
  s.resources.tags = {"a\xff"};
  EXPECT_TRUE(Starts(Problem(s), "tasks[3].resources.tags")) << Problem(s);
}

TEST(SpecCheckTest, ArgvEnvAndCwdMayBeAnyBytesButNul) {
  TaskSpec s = Good();
  s.argv = {"/bin/echo", "\xff\xfe latin-1 \xe9"};
  s.env["LANG_BYTES"] = "\xff";
  s.cwd = "/data/\xe9t\xe9";
  EXPECT_EQ(Problem(s), "");
  s.argv.push_back(std::string("a\0b", 3));
  EXPECT_EQ(Problem(s), "tasks[3].argv[2]: 'a\\x00b': contains a NUL byte at byte 1, which a command line cannot carry");
  s = Good();
  s.env["X"] = std::string("1\0", 2);
  EXPECT_TRUE(Starts(Problem(s), "tasks[3].env[X]")) << Problem(s);
}

TEST(SpecCheckTest, ToShownTextAlwaysPassesTheCheck) {
  EXPECT_EQ(ToShownText("caf\xe9", 256), "caf\xef\xbf\xbd");
  EXPECT_EQ(ToShownText("a\tb", 256), "a\xef\xbf\xbd" "b");
  EXPECT_EQ(ToShownText("日本語", 7), "日本");  // never half a character
  TaskSpec s = Good();
  s.name = ToShownText(std::string(300, 'x') + "\xff\n", kMaxNameBytes);
  EXPECT_EQ(Problem(s), "");
  EXPECT_EQ(s.name.size(), kMaxNameBytes);
}

TEST(SpecCheckTest, PrintableEscapesAndCuts) {
  EXPECT_EQ(Printable("plain"), "plain");
  EXPECT_EQ(Printable("日本語"), "日本語");
  EXPECT_EQ(Printable("a\xff\tb\\"), "a\\xff\\x09b\\x5c");
  EXPECT_EQ(Printable(std::string(100, 'x'), 10), std::string(10, 'x') + "...");
  EXPECT_EQ(Utf8Problem("ok ✓"), "");
  EXPECT_EQ(Utf8Problem("ok \xe2\x9c"), "invalid UTF-8 at byte 3");
}

}  // namespace
}  // namespace ritsu
