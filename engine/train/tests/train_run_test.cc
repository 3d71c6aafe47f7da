// End-to-end runs of the trainer on a tiny random Qwen3 with the real tokenizer: the loss
// falls, resume is bit-exact, the saved adapter loads in the inference engine and gives the
// trainer's logits, and bad input is refused with the file/line/flag named.
#include <cmath>
#include <filesystem>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/model/generator.h"
#include "engine/model/model.h"
#include "engine/model/safetensors.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/train/lora_net.h"
#include "engine/train/tests/train_fixture.h"

namespace ritsu::train {
namespace {

namespace fs = std::filesystem;
using engine::testing::TempDir;
using namespace ritsu::train::testing;

std::vector<std::string> SmallData() {
  return {R"({"input": "民法第1条は何を定めていますか", "output": "a", "meta": {"mode": "direct"}})",
          R"({"input": "会社法の目的は", "output": "b", "meta": {"mode": "direct"}})",
          R"({"input": "金融商品取引法第5条", "output": "c", "meta": {"mode": "direct"}})",
          R"({"input": "刑法第199条", "output": "d", "meta": {"mode": "direct"}})",
          R"({"input": "理由を考えて答えよ", "output": "まず条文を読む。答えは a", "meta": {"mode": "cot"}})",
          R"({"input": "憲法第9条", "output": "b"})"};
}

class TrainRun : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    WriteTinyQwen3(*dir_ / "model", 7, 0.2);
    WriteLines(*dir_ / "data.jsonl", SmallData());
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string Model() { return *dir_ / "model"; }
  static std::string Data() { return *dir_ / "data.jsonl"; }
  static TempDir* dir_;
  TempDir out_;
};
TempDir* TrainRun::dir_ = nullptr;

TEST_F(TrainRun, LossDecreasesAndOutputsArePeftShaped) {
  const std::string out = out_ / "run";
  auto r = Train({"--model-name", Model(), "--train-file", Data(), "--output-dir", out, "--max-steps-override", "25",
                  "--batch-size", "3", "--learning-rate", "5e-3", "--lora-r", "8", "--target-modules", "all-linear",
                  "--logging-steps", "1", "--warmup-ratio", "0", "--lr-scheduler", "constant",
                  "--loss-on-output-only"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->steps, 25);
  std::ifstream f(out + "/trainer_state.json");
  auto state = nlohmann::json::parse(f);
  const auto& h = state["log_history"];
  ASSERT_EQ(h.size(), 25u);
  // Averages of the first and last five steps (two batch orders alternate): memorising six
  // samples must cut the loss at least in half.
  double first = 0, last = 0;
  for (int i = 0; i < 5; ++i) {
    first += h[i]["loss"].get<double>();
    last += h[h.size() - 1 - i]["loss"].get<double>();
  }
  EXPECT_LT(last, 0.5 * first) << state.dump();
  for (const char* name : {"adapter_config.json", "adapter_model.safetensors", "tokenizer.json", "tokenizer_config.json"}) {
    EXPECT_TRUE(fs::exists(out + "/" + name)) << name;
  }
  auto cfg = nlohmann::json::parse(ReadFileBytes(out + "/adapter_config.json"));
  EXPECT_EQ(cfg["peft_type"], "LORA");
  EXPECT_EQ(cfg["r"], 8);
  EXPECT_EQ(cfg["target_modules"].size(), 7u);
}

TEST_F(TrainRun, SavedAdapterLoadsInTheEngineAndGivesTheTrainersLogits) {
  const std::string out = out_ / "run";
  ASSERT_TRUE(Train({"--model-name", Model(), "--train-file", Data(), "--output-dir", out, "--max-steps-override", "4",
                     "--learning-rate", "1e-2", "--lora-r", "4", "--target-modules", "q_proj,v_proj,down_proj"})
                  .ok());
  auto config = engine::LoadModelConfig(Model()).value();
  auto adapter = engine::LoraAdapter::Load(out, config);
  ASSERT_TRUE(adapter.ok()) << adapter.status().ToString();
  double bmax = 0;
  for (const auto& [k, w] : adapter->weights) {
    for (float b : w.b) bmax = std::max(bmax, static_cast<double>(std::abs(b)));
  }
  EXPECT_GT(bmax, 0.0) << "B stayed zero: the adapter was not trained";
  // The trainer's forward with the reloaded adapter vs the inference engine's CPU forward.
  auto ck = engine::Checkpoint::OpenDir(Model()).value();
  auto net = LoraNet::Create(config, *ck, false, *adapter).value();
  const std::vector<int32_t> ids = {9707, 11, 1879, 0, 220, 100, 7};
  TokenizedSample s{ids, 1, 1};
  PackedBatch b = PackBatch({&s}, false);
  std::vector<float> mine = net->Logits(b, {6});
  auto backend = engine::MakeCpuBackend();
  engine::ModelLoadOptions lo;
  lo.lora_dir = out;
  auto model = engine::Model::Load(Model(), *backend, lo);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  auto theirs = engine::ComputeLogits(**model, ids, false);
  ASSERT_TRUE(theirs.ok());
  ASSERT_EQ(theirs->size(), mine.size());
  // Same fp32 math in a different order of operations: 1e-4 absolute on logits of size ~1.
  double maxdiff = 0;
  for (size_t i = 0; i < mine.size(); ++i) maxdiff = std::max(maxdiff, static_cast<double>(std::abs(mine[i] - (*theirs)[i])));
  EXPECT_LT(maxdiff, 1e-4);
}

TEST_F(TrainRun, ResumeFromACheckpointIsBitExact) {
  const std::vector<std::string> common = {"--model-name", Model(), "--train-file", Data(), "--max-steps-override", "6",
                                           "--batch-size", "2", "--gradient-accumulation-steps", "2",
                                           "--lora-dropout", "0.1", "--learning-rate", "3e-3", "--seed", "5",
                                           "--warmup-ratio", "0.2", "--lr-scheduler", "cosine"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = common;
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  ASSERT_TRUE(Train(with({"--output-dir", out_ / "straight"})).ok());
  ASSERT_TRUE(Train(with({"--output-dir", out_ / "saving", "--save-steps", "4"})).ok());
  ASSERT_TRUE(fs::exists(out_ / "saving/checkpoint-4/optimizer.safetensors"));
  std::string log;
  auto r = Train(with({"--output-dir", out_ / "resumed", "--resume", out_ / "saving/checkpoint-4"}), &log);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->steps, 6);
  EXPECT_NE(log.find("resuming from checkpoint-"), std::string::npos);
  const std::string a = ReadFileBytes(out_ / "straight/adapter_model.safetensors");
  ASSERT_FALSE(a.empty());
  EXPECT_TRUE(a == ReadFileBytes(out_ / "saving/adapter_model.safetensors"));
  EXPECT_TRUE(a == ReadFileBytes(out_ / "resumed/adapter_model.safetensors")) << "resume diverged";
  auto h1 = nlohmann::json::parse(ReadFileBytes(out_ / "straight/trainer_state.json"))["log_history"];
  auto h2 = nlohmann::json::parse(ReadFileBytes(out_ / "resumed/trainer_state.json"))["log_history"];
  ASSERT_EQ(h1.size(), h2.size());
  for (size_t i = 0; i < h1.size(); ++i) EXPECT_EQ(h1[i]["loss"], h2[i]["loss"]) << i;
}

TEST_F(TrainRun, TrainModeFiltersAndTruncationIsCounted) {
  std::string log;
  auto r = Train({"--model-name", Model(), "--train-file", Data(), "--output-dir", out_ / "o", "--max-steps-override",
                  "1", "--train-mode", "cot", "--max-seq-length", "200"}, &log);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_NE(log.find("train: 1 samples (mode cot)"), std::string::npos) << log;
  // A limit shorter than every prompt leaves no output token: all dropped, a clear error.
  r = Train({"--model-name", Model(), "--train-file", Data(), "--output-dir", out_ / "o2", "--max-seq-length", "3"}, &log);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("no sample left"), std::string::npos);
  EXPECT_NE(log.find("6 truncated to 3 tokens, 6 dropped with no output tokens left"), std::string::npos) << log;
}

TEST_F(TrainRun, MalformedLinesFailWithTheLineNumberOrAreSkipped) {
  auto lines = SmallData();
  lines.insert(lines.begin() + 2, "{\"input\": \"x\"}");
  lines.insert(lines.begin() + 4, "");
  WriteLines(out_ / "bad.jsonl", lines);
  auto r = Train({"--model-name", Model(), "--train-file", out_ / "bad.jsonl", "--output-dir", out_ / "o"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("bad.jsonl:3: \"output\" is missing"), std::string::npos) << r.status().message();
  std::string log;
  r = Train({"--model-name", Model(), "--train-file", out_ / "bad.jsonl", "--output-dir", out_ / "o",
             "--on-bad-line", "skip", "--max-steps-override", "1"}, &log);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_NE(log.find("bad.jsonl:5: empty line"), std::string::npos) << log;
  EXPECT_NE(log.find("2 bad lines skipped"), std::string::npos) << log;
}

TEST_F(TrainRun, BadFlagsNameTheFlag) {
  auto msg = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = {"--model-name", Model(), "--train-file", Data(), "--output-dir", out_ / "o"};
    a.insert(a.end(), extra.begin(), extra.end());
    auto r = Train(a);
    return r.ok() ? std::string("ok") : r.status().message();
  };
  EXPECT_NE(msg({"--target-modules", "q_proj,qkv"}).find("unknown module \"qkv\"; valid: q_proj, k_proj"), std::string::npos);
  EXPECT_NE(msg({"--lora-r", "0"}).find("--lora-r 0: must be >= 1"), std::string::npos);
  EXPECT_NE(msg({"--bnb-4bit-quant-type", "int3"}).find("--bnb-4bit-quant-type int3"), std::string::npos);
  EXPECT_NE(msg({"--learning-rate", "fast"}).find("--learning-rate fast: not a number"), std::string::npos);
  EXPECT_NE(msg({"--frobnicate"}).find("unknown flag --frobnicate"), std::string::npos);
  EXPECT_NE(msg({"--gpus", "2"}).find("--gpus 2: data parallel runs over CUDA GPUs"), std::string::npos);
  EXPECT_NE(Train({"--train-file", Data()}).status().message().find("--model-name is required"), std::string::npos);
}

TEST_F(TrainRun, DivergingLossStopsAndKeepsTheLastGoodCheckpoint) {
  const std::string out = out_ / "nan";
  auto r = Train({"--model-name", Model(), "--train-file", Data(), "--output-dir", out, "--max-steps-override", "40",
                  "--learning-rate", "1e30", "--max-grad-norm", "0", "--save-steps", "1", "--warmup-ratio", "0",
                  "--loss-on-output-only",
                  "--target-modules", "all-linear", "--lora-r", "8"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kFailedPrecondition);
  const std::string& m = r.status().message();
  EXPECT_NE(m.find("the last good checkpoint is " + out + "/checkpoint-"), std::string::npos) << m;
  const std::string last = LatestCheckpoint(out);
  ASSERT_FALSE(last.empty());
  EXPECT_NE(m.find(last), std::string::npos) << m;
  auto config = engine::LoadModelConfig(Model()).value();
  EXPECT_TRUE(engine::LoraAdapter::Load(last, config).ok()) << "the kept checkpoint must still load";
}

}  // namespace
}  // namespace ritsu::train

namespace ritsu::train {
namespace {

// --use-4bit: the trainer's NF4 round trip gives the same logits as the inference engine's
// NF4 model (both bitsandbytes layout) with the same adapter.
TEST_F(TrainRun, Nf4BaseMatchesTheEnginesNf4Model) {
  const std::string out = out_ / "nf4";
  auto r = Train({"--model-name", Model(), "--train-file", Data(), "--output-dir", out, "--max-steps-override", "3",
                  "--learning-rate", "1e-2", "--use-4bit", "--target-modules", "all-linear"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto config = engine::LoadModelConfig(Model()).value();
  auto adapter = engine::LoraAdapter::Load(out, config).value();
  auto ck = engine::Checkpoint::OpenDir(Model()).value();
  auto net4 = LoraNet::Create(config, *ck, true, adapter).value();
  auto net16 = LoraNet::Create(config, *ck, false, adapter).value();
  const std::vector<int32_t> ids = {9707, 11, 1879, 0, 220};
  TokenizedSample s{ids, 1, 1};
  PackedBatch b = PackBatch({&s}, false);
  auto mine = net4->Logits(b, {4});
  auto dense = net16->Logits(b, {4});
  auto backend = engine::MakeCpuBackend();
  engine::ModelLoadOptions lo;
  lo.lora_dir = out;
  lo.load_in_4bit = true;
  auto model = engine::Model::Load(Model(), *backend, lo).value();
  auto theirs = engine::ComputeLogits(*model, ids, false).value();
  double d_engine = 0, d_dense = 0;
  for (size_t i = 0; i < mine.size(); ++i) {
    d_engine = std::max(d_engine, static_cast<double>(std::abs(mine[i] - theirs[i])));
    d_dense = std::max(d_dense, static_cast<double>(std::abs(mine[i] - dense[i])));
  }
  EXPECT_LT(d_engine, 1e-4);  // same dequantized values, fp32 order-of-operations noise
  EXPECT_GT(d_dense, 1e-3);   // and NF4 really changed the base
}

TEST_F(TrainRun, ChatFormatUsesTheQwenTemplate) {
  auto tok = tokenizer::Tokenizer::Load(Model()).value();
  const std::string p = PromptText(tok, PromptFormat::kChat, "質問");
  EXPECT_EQ(p.rfind("<|im_start|>user\n質問<|im_end|>\n<|im_start|>assistant\n", 0), 0u) << p;
  std::string log;
  auto r = Train({"--model-name", Model(), "--train-file", Data(), "--output-dir", out_ / "chat",
                  "--max-steps-override", "2", "--prompt-format", "chat", "--loss-on-output-only"}, &log);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
}

}  // namespace
}  // namespace ritsu::train

#include <signal.h>
#include <sys/resource.h>

namespace ritsu::train {
namespace {

// A full disk while saving: RLIMIT_FSIZE makes every write past 4 KiB fail (EFBIG, as ENOSPC
// would), even for root. The save must fail with a message, leave no half-written directory,
// and the earlier checkpoint must still load.
TEST_F(TrainRun, FailedCheckpointWriteKeepsThePreviousCheckpoint) {
  const std::string out = out_ / "disk";
  ASSERT_TRUE(Train({"--model-name", Model(), "--train-file", Data(), "--output-dir", out, "--max-steps-override", "3",
                     "--save-steps", "2", "--target-modules", "all-linear", "--lora-r", "16"})
                  .ok());
  const std::string good = out + "/checkpoint-2";
  ASSERT_TRUE(fs::exists(good));
  auto config = engine::LoadModelConfig(Model()).value();
  engine::LoraConfig lora;
  lora.r = 16;
  lora.target_modules = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
  auto adapter = engine::LoraAdapter::Load(good, config).value();
  auto ck = engine::Checkpoint::OpenDir(Model()).value();
  auto net = LoraNet::Create(config, *ck, false, adapter).value();
  TrainProgress progress = LoadCheckpoint(good, *net).value();

  struct sigaction ignore {}, old_action {};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGXFSZ, &ignore, &old_action);
  rlimit old_limit{};
  getrlimit(RLIMIT_FSIZE, &old_limit);
  rlimit small = old_limit;
  small.rlim_cur = 4096;
  setrlimit(RLIMIT_FSIZE, &small);
  // Overwriting the good checkpoint in place is the harshest case.
  Status st = SaveCheckpoint(good, *net, lora, progress);
  setrlimit(RLIMIT_FSIZE, &old_limit);
  sigaction(SIGXFSZ, &old_action, nullptr);

  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("earlier checkpoints are intact"), std::string::npos) << st.message();
  EXPECT_FALSE(fs::exists(good + ".tmp"));
  auto again = LoraNet::Create(config, *ck, false, adapter).value();
  auto reloaded = LoadCheckpoint(good, *again);
  ASSERT_TRUE(reloaded.ok()) << reloaded.status().ToString();
  EXPECT_EQ(reloaded->global_step, 2);
}

}  // namespace
}  // namespace ritsu::train

namespace ritsu::train {
namespace {

// One step over 4 samples is the same whether they come as one micro-batch of 4 or two of 2
// accumulated (the loss is normalised by the labelled tokens of the whole step): the property
// data-parallel training over N GPUs must also keep. Equal within fp32 summation order.
TEST_F(TrainRun, GradientAccumulationEqualsOneLargerBatch) {
  auto run = [&](const std::string& name, const char* bs, const char* accum) {
    auto r = Train({"--model-name", Model(), "--train-file", Data(), "--output-dir", out_ / name, "--max-steps-override",
                    "1", "--batch-size", bs, "--gradient-accumulation-steps", accum, "--lora-dropout", "0",
                    "--warmup-ratio", "0", "--learning-rate", "1e-2", "--target-modules", "all-linear",
                    "--lr-scheduler", "constant", "--seed", "4"});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    auto config = engine::LoadModelConfig(Model()).value();
    return engine::LoraAdapter::Load(out_ / name, config).value();
  };
  auto one = run("one", "4", "1"), two = run("two", "2", "2");
  // Adam's first update is nearly sign(g), so the magnitudes are checked on the logged loss
  // and pre-clipping gradient norm: a per-micro-batch normalisation would change both.
  auto h1 = nlohmann::json::parse(ReadFileBytes(out_ / "one/trainer_state.json"))["log_history"][0];
  auto h2 = nlohmann::json::parse(ReadFileBytes(out_ / "two/trainer_state.json"))["log_history"][0];
  EXPECT_NEAR(h1["loss"].get<double>(), h2["loss"].get<double>(), 1e-6 * h1["loss"].get<double>());
  EXPECT_NEAR(h1["grad_norm"].get<double>(), h2["grad_norm"].get<double>(), 1e-5 * h1["grad_norm"].get<double>());
  ASSERT_EQ(one.weights.size(), two.weights.size());
  double maxdiff = 0, maxval = 0;
  for (const auto& [k, w] : one.weights) {
    const auto& v = two.weights.at(k);
    for (size_t i = 0; i < w.b.size(); ++i) {
      maxdiff = std::max(maxdiff, static_cast<double>(std::abs(w.b[i] - v.b[i])));
      maxval = std::max(maxval, static_cast<double>(std::abs(w.b[i])));
    }
  }
  ASSERT_GT(maxval, 1e-3);  // B moved by about the learning rate
  // Adam's first step is lr * g / (|g| + eps): only entries with |g| near eps are sensitive,
  // so 1e-4 of the step size bounds the fp32 reassociation difference.
  EXPECT_LT(maxdiff, 1e-4 * maxval);
}

TEST_F(TrainRun, ResumeAutoPicksTheNewestCheckpointAndRsloraScales) {
  const std::string out = out_ / "auto";
  const std::vector<std::string> args = {"--model-name", Model(), "--train-file", Data(), "--output-dir", out,
                                         "--max-steps-override", "5", "--save-steps", "2", "--use-rslora",
                                         "--lora-r", "4", "--lora-alpha", "8"};
  ASSERT_TRUE(Train(args).ok());
  EXPECT_EQ(LatestCheckpoint(out), out + "/checkpoint-4");
  auto with_resume = args;
  with_resume.insert(with_resume.end(), {"--resume", "auto"});
  std::string log;
  ASSERT_TRUE(Train(with_resume, &log).ok());
  EXPECT_NE(log.find("resuming from checkpoint-4 (step 4) in " + out), std::string::npos) << log;
  auto cfg = nlohmann::json::parse(ReadFileBytes(out + "/adapter_config.json"));
  EXPECT_EQ(cfg["use_rslora"], true);
  engine::LoraConfig c;
  c.r = 4;
  c.lora_alpha = 8;
  c.use_rslora = true;
  EXPECT_DOUBLE_EQ(c.Scale(), 4.0);  // alpha / sqrt(r)
  auto config = engine::LoadModelConfig(Model()).value();
  auto ad = engine::LoraAdapter::Load(out, config).value();
  auto ck = engine::Checkpoint::OpenDir(Model()).value();
  EXPECT_FLOAT_EQ(LoraNet::Create(config, *ck, false, ad).value()->lora_scale(), 4.0f);
}

}  // namespace
}  // namespace ritsu::train

namespace ritsu::train {
namespace {

// --parity-dump writes what tests/parity/train_parity.py replays: the LoRA init, the data
// order, and the step-0 gradients (before clipping) whose norm is the logged grad_norm.
TEST_F(TrainRun, ParityDumpWritesInitDataOrderAndStepZeroGradients) {
  const std::string out = out_ / "run";
  auto r = Train({"--model-name", Model(), "--train-file", Data(), "--output-dir", out, "--max-steps-override", "2",
                  "--batch-size", "2", "--gradient-accumulation-steps", "2", "--lora-r", "4", "--logging-steps", "1",
                  "--loss-on-output-only", "--parity-dump"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto config = engine::LoadModelConfig(Model()).value();
  ASSERT_TRUE(engine::LoraAdapter::Load(out + "/initial_adapter", config).ok());
  auto order = nlohmann::json::parse(ReadFileBytes(out + "/data_order.json"));
  ASSERT_EQ(order.size(), 2u);     // steps
  ASSERT_EQ(order[0].size(), 2u);  // micro-batches of step 1
  EXPECT_EQ(order[0][0].size(), 2u);
  auto grads = engine::LoraAdapter::Load(out + "/step0_grads", config);
  ASSERT_TRUE(grads.ok()) << grads.status().ToString();
  double sq = 0;
  for (const auto& [key, w] : grads->weights) {
    for (float x : w.a) sq += static_cast<double>(x) * x;
    for (float x : w.b) sq += static_cast<double>(x) * x;
  }
  auto state = nlohmann::json::parse(ReadFileBytes(out + "/trainer_state.json"));
  const double logged = state["log_history"][0]["grad_norm"].get<double>();
  EXPECT_GT(logged, 0.0);
  EXPECT_NEAR(std::sqrt(sq), logged, 1e-4 * logged);
}

}  // namespace
}  // namespace ritsu::train

namespace ritsu::train {
namespace {

// An out-of-memory stop says what the run needs (the GPU path throws; the text is built here).
TEST_F(TrainRun, OutOfMemoryMessageSaysWhatTheRunNeeds) {
  std::vector<std::string> flags = {"train", "--model-name", Model(), "--train-file", Data(), "--output-dir",
                                    out_ / "x", "--batch-size", "4", "--max-seq-length", "512"};
  std::vector<char*> argv;
  for (auto& f : flags) argv.push_back(f.data());
  TrainOptions o = ParseTrainArgs(static_cast<int>(argv.size()), argv.data()).value();
  const std::string dense = MemoryNeedMessage(o);
  EXPECT_NE(dense.find("this run needs about "), std::string::npos) << dense;
  EXPECT_NE(dense.find(" per GPU (weights "), std::string::npos) << dense;
  EXPECT_NE(dense.find("--use-4bit"), std::string::npos) << dense;
  o.use_4bit = true;
  const std::string nf4 = MemoryNeedMessage(o);
  EXPECT_EQ(nf4.find("--use-4bit"), std::string::npos) << nf4;
  EXPECT_NE(nf4.find("(nf4)"), std::string::npos) << nf4;
  o.model_name = out_ / "missing";
  EXPECT_EQ(MemoryNeedMessage(o), "");
}

}  // namespace
}  // namespace ritsu::train
