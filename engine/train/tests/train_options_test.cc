// Unit tests of the pieces around the trainer: flags, schedules, data packing and order.
#include <algorithm>
#include <cmath>

#include <gtest/gtest.h>

#include "engine/train/lr_schedule.h"
#include "engine/train/train_data.h"
#include "engine/train/train_options.h"

namespace ritsu::train {
namespace {

Result<TrainOptions> Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "train");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return ParseTrainArgs(static_cast<int>(argv.size()), argv.data());
}

TEST(TrainOptions, SeedScriptFlagsParse) {
  auto o = Parse({"--model-name", "m", "--train-file", "t.jsonl", "--output-dir", "o", "--num-epochs", "2",
                  "--batch-size=4", "--learning-rate", "1e-4", "--lora-r", "16", "--lora-alpha", "32",
                  "--target-modules", "all-linear", "--use-4bit", "--bnb-4bit-compute-dtype", "float16",
                  "--loss-on-output-only", "--train-mode", "direct", "--do-train", "--use-rslora",
                  "--prompt-format", "chat", "--lr-scheduler", "cosine", "--max_grad_norm", "0.5"});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->num_epochs, 2);
  EXPECT_EQ(o->batch_size, 4);
  EXPECT_DOUBLE_EQ(o->learning_rate, 1e-4);
  EXPECT_EQ(o->target_modules.size(), 7u);
  EXPECT_TRUE(o->use_4bit && o->loss_on_output_only && o->use_rslora);
  EXPECT_EQ(o->prompt_format, PromptFormat::kChat);
  EXPECT_DOUBLE_EQ(o->max_grad_norm, 0.5);
}

TEST(TrainOptions, DefaultTargetsAreAsPeftPicksForQwen) {
  auto o = Parse({"--model-name", "m", "--train-file", "t", "--output-dir", "o"});
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->target_modules, (std::vector<std::string>{"q_proj", "v_proj"}));
  EXPECT_DOUBLE_EQ(o->max_grad_norm, 1.0);
}

TEST(TrainOptions, MemoryCapAndDeviceParse) {
  EXPECT_EQ(ParseByteSize("max-gpu-memory", "10G").value(), 10ull << 30);
  EXPECT_EQ(ParseByteSize("max-gpu-memory", "512MiB").value(), 512ull << 20);
  EXPECT_EQ(ParseByteSize("max-gpu-memory", "1.5g").value(), 3ull << 29);
  EXPECT_EQ(ParseByteSize("max-gpu-memory", "4096").value(), 4096u);
  EXPECT_NE(ParseByteSize("max-gpu-memory", "10X").status().message().find("unknown unit"), std::string::npos);
  EXPECT_FALSE(ParseByteSize("max-gpu-memory", "lots").ok());
  auto o = Parse({"--model-name", "m", "--train-file", "t", "--output-dir", "o", "--device", "cuda:1",
                  "--max-gpu-memory", "10G"});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->device, "cuda");
  EXPECT_EQ(o->device_ordinal, 1);
  EXPECT_EQ(o->max_gpu_memory_bytes, 10ull << 30);
  EXPECT_NE(Parse({"--model-name", "m", "--train-file", "t", "--output-dir", "o", "--device", "tpu"})
                .status().message().find("--device tpu"),
            std::string::npos);
}

TEST(LrSchedule, MatchesHfFormulas) {
  // total 10, warmup ceil(0.25*10) = 3.
  EXPECT_EQ(WarmupSteps(0.25, 10), 3);
  EXPECT_DOUBLE_EQ(LearningRateAt("linear", 1.0, 0, 3, 10), 0.0);
  EXPECT_DOUBLE_EQ(LearningRateAt("linear", 1.0, 2, 3, 10), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(LearningRateAt("linear", 1.0, 3, 3, 10), 1.0);
  EXPECT_DOUBLE_EQ(LearningRateAt("linear", 1.0, 8, 3, 10), 2.0 / 7.0);
  EXPECT_NEAR(LearningRateAt("cosine", 1.0, 5, 3, 10), 0.5 * (1 + std::cos(M_PI * 2.0 / 7.0)), 1e-15);
  EXPECT_DOUBLE_EQ(LearningRateAt("constant", 1.0, 9, 3, 10), 1.0);
}

TEST(TrainData, PackedLabelsMaskThePromptAndEachSequenceEnd) {
  TokenizedSample a{{10, 11, 12, 13}, 2, 1}, b{{20, 21, 22}, 1, 2};
  PackedBatch p = PackBatch({&a, &b}, true);
  EXPECT_EQ(p.tokens, (std::vector<int32_t>{10, 11, 12, 13, 20, 21, 22}));
  EXPECT_EQ(p.positions, (std::vector<int32_t>{0, 1, 2, 3, 0, 1, 2}));
  EXPECT_EQ(p.labels, (std::vector<int32_t>{-100, 12, 13, -100, 21, 22, -100}));
  EXPECT_EQ(p.cu_seqlens, (std::vector<int32_t>{0, 4, 7}));
  EXPECT_EQ(p.max_seqlen, 4);
  PackedBatch all = PackBatch({&a}, false);
  EXPECT_EQ(all.labels, (std::vector<int32_t>{11, 12, 13, -100}));
}

TEST(TrainData, EpochOrderIsAPermutationFixedBySeedAndEpoch) {
  auto o = EpochOrder(50, 7, 0);
  auto sorted = o;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 50; ++i) EXPECT_EQ(sorted[static_cast<size_t>(i)], i);
  EXPECT_EQ(o, EpochOrder(50, 7, 0));
  EXPECT_NE(o, EpochOrder(50, 7, 1));
  EXPECT_NE(o, EpochOrder(50, 8, 0));
}

TEST(TrainData, ModeFilter) {
  std::vector<RawSample> s = {{"a", "x", "direct", 1}, {"b", "y", "cot", 2}, {"c", "z", "", 3}};
  EXPECT_EQ(FilterByMode(s, "direct")->size(), 2u);
  EXPECT_EQ(FilterByMode(s, "cot")->size(), 1u);
  EXPECT_EQ(FilterByMode(s, "auto")->size(), 3u);
  EXPECT_FALSE(FilterByMode({{"a", "x", "direct", 1}}, "cot").ok());
}

}  // namespace
}  // namespace ritsu::train
