// Sweep file expansion: grid order, random samples, chains, substitution and every kind of
// malformed file.
#include "scheduler/sweep.h"

#include <gtest/gtest.h>

namespace ritsu::sched {
namespace {

constexpr const char* kChain = R"(
[sweep]
name = "law-ft"
max_concurrent = 4

[grid]
lr = ["1e-4", "2e-4", "5e-4"]
lora_r = [8, 16]

[trial]
output = "runs/{sweep.name}/lr{lr}-r{lora_r}"

[base]
gpus = 1
gpu_mem = "20G"
max_attempts = 2
env = { HF_HOME = "/data/hf" }

[[step]]
name = "eval"
kind = "eval"
after = ["train"]
argv = ["--data", "selection.json", "--hf-lora-path", "{trial.output}"]

[[step]]
name = "train"
kind = "train"
argv = ["--learning-rate", "{lr}", "--lora-r", "{lora_r}", "--output-dir", "{trial.output}"]
timeout = "6h"
)";

TEST(SweepTest, GridWithChain) {
  auto r = ExpandSweep(kChain, "law.toml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->name, "law-ft");
  EXPECT_EQ(r->max_concurrent, 4u);
  ASSERT_EQ(r->trials.size(), 6u);
  // Keys in sorted order (lora_r, lr), the last varying fastest.
  EXPECT_EQ(r->trials[0].params, (std::map<std::string, std::string>{{"lora_r", "8"}, {"lr", "1e-4"}}));
  EXPECT_EQ(r->trials[1].params, (std::map<std::string, std::string>{{"lora_r", "8"}, {"lr", "2e-4"}}));
  EXPECT_EQ(r->trials[3].params, (std::map<std::string, std::string>{{"lora_r", "16"}, {"lr", "1e-4"}}));
  const auto& t = r->trials[1];
  ASSERT_EQ(t.steps.size(), 2u);
  // train is ordered before eval although the file lists eval first.
  EXPECT_EQ(t.steps[0].step, "train");
  EXPECT_EQ(t.steps[1].step, "eval");
  EXPECT_EQ(t.steps[0].spec.kind, TaskKind::kTrain);
  EXPECT_EQ(t.steps[0].spec.argv, (std::vector<std::string>{"--learning-rate", "2e-4", "--lora-r", "8",
                                                            "--output-dir", "runs/law-ft/lr2e-4-r8"}));
  EXPECT_EQ(t.steps[1].spec.argv[3], "runs/law-ft/lr2e-4-r8");
  EXPECT_EQ(t.steps[0].spec.timeout_ms, 6 * 3600 * 1000);
  EXPECT_EQ(t.steps[1].spec.timeout_ms, 0);
  EXPECT_EQ(t.steps[1].spec.resources.gpus, 1u);  // from [base]
  EXPECT_EQ(t.steps[1].spec.resources.gpu_mem_bytes, 20ull << 30);
  EXPECT_EQ(t.steps[1].spec.max_attempts, 2u);
  EXPECT_EQ(t.steps[1].spec.env.at("HF_HOME"), "/data/hf");
  EXPECT_EQ(t.steps[1].spec.labels.at("param.lr"), "2e-4");
  EXPECT_EQ(t.steps[1].after, std::vector<std::string>{"train"});

  std::vector<std::vector<uint32_t>> idx;
  auto specs = FlattenSweep(*r, &idx);
  ASSERT_EQ(specs.size(), 12u);
  EXPECT_EQ(idx[1], (std::vector<uint32_t>{2, 3}));
  EXPECT_EQ(specs[3].after_in_batch, std::vector<uint32_t>{2});
  EXPECT_TRUE(specs[2].after_in_batch.empty());
}

TEST(SweepTest, SingleStepFromBaseAndNumbers) {
  auto r = ExpandSweep(R"(
[grid]
lr = [0.0001, 0.5]
flag = [true]
[base]
argv = ["run", "{lr}", "{flag}", "{trial}", "{{literal}}"]
)", "s.toml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->trials.size(), 2u);
  EXPECT_EQ(r->trials[0].steps[0].step, "main");
  EXPECT_EQ(r->trials[0].steps[0].spec.name, "s.toml-0");
  EXPECT_EQ(r->trials[0].steps[0].spec.argv, (std::vector<std::string>{"run", "0.0001", "true", "0", "{literal}"}));
  EXPECT_EQ(r->trials[1].steps[0].spec.argv[1], "0.5");
}

TEST(SweepTest, RandomSampleIsSeededAndDistinct) {
  std::string text = R"(
[sweep]
sample = 5
seed = 42
[grid]
a = [1, 2, 3, 4]
b = [1, 2, 3]
[base]
argv = ["x", "{a}", "{b}"]
)";
  auto r1 = ExpandSweep(text, "r.toml");
  auto r2 = ExpandSweep(text, "r.toml");
  ASSERT_TRUE(r1.ok()) << r1.status().ToString();
  ASSERT_EQ(r1->trials.size(), 5u);
  std::set<std::map<std::string, std::string>> seen;
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(r1->trials[i].params, r2->trials[i].params);  // same seed, same sample
    seen.insert(r1->trials[i].params);
  }
  EXPECT_EQ(seen.size(), 5u);  // without replacement
  std::string other = text;
  other.replace(other.find("seed = 42"), 9, "seed = 43");
  auto r3 = ExpandSweep(other, "r.toml");
  ASSERT_TRUE(r3.ok());
  bool differs = false;
  for (size_t i = 0; i < 5; ++i) differs |= r3->trials[i].params != r1->trials[i].params;
  EXPECT_TRUE(differs);
}

void ExpectError(const std::string& text, const std::string& needle) {
  auto r = ExpandSweep(text, "bad.toml");
  ASSERT_FALSE(r.ok()) << "accepted:\n" << text;
  EXPECT_NE(r.status().message().find(needle), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("bad.toml"), std::string::npos) << r.status().message();
}

TEST(SweepTest, MalformedFilesAreRefusedWithTheField) {
  ExpectError("[grid\n", "line 1");
  ExpectError("[base]\nargv = [\"x\"]\n[[step]]\nname = \"a\"\nafter = [\"b\"]\n[[step]]\nname = \"b\"\nafter = [\"a\"]\n",
              "cycle: a -> b -> a");
  ExpectError("[[step]]\nname = \"a\"\nargv = [\"x\"]\nafter = [\"a\"]\n", "cycle: a -> a");
  ExpectError("[[step]]\nname = \"a\"\nargv = [\"x\"]\nafter = [\"tain\"]\n", "no step has that name");
  ExpectError("[base]\nargv = [\"x\", \"{nope}\"]\n", "unknown placeholder {nope}");
  ExpectError("[base]\nargv = [\"x\"]\ngpu = 1\n", "base.gpu");
  ExpectError("[base]\nargv = [\"x\"]\ngpu_mem = \"20X\"\n", "gpu_mem");
  ExpectError("[base]\nargv = [\"x\"]\ntimeout = \"soon\"\n", "timeout");
  ExpectError("[base]\nargv = [\"x\"]\nkind = \"finetune\"\n", "unknown task kind");
  ExpectError("[grid]\nlr = []\n[base]\nargv = [\"x\"]\n", "empty list");
  ExpectError("[grid]\nlr = 3\n[base]\nargv = [\"x\"]\n", "must be an array");
  ExpectError("[base]\nkind = \"exec\"\n", "argv is missing");
  ExpectError("[sweep]\nsample = 5\n[grid]\na = [1, 2]\n[base]\nargv = [\"x\"]\n", "only 2 points");
  ExpectError("[sweeps]\nname = \"x\"\n", "unknown top-level key 'sweeps'");
  ExpectError("[[step]]\nname = \"a\"\nargv = [\"x\"]\n[[step]]\nname = \"a\"\nargv = [\"y\"]\n", "duplicate step name");
  ExpectError("[base]\nargv = [\"x\"]\nmax_attempts = 0\n", "max_attempts");
}

TEST(SweepTest, SubstituteHandlesBracesAndErrors) {
  std::map<std::string, std::string> v{{"a", "1"}, {"trial.out", "o"}};
  EXPECT_EQ(*Substitute("x{a}y{trial.out}{{z}}", v), "x1yo{z}");
  EXPECT_FALSE(Substitute("x{a", v).ok());
  EXPECT_FALSE(Substitute("{b}", v).ok());
}

}  // namespace
}  // namespace ritsu::sched
