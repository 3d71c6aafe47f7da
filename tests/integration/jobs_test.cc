// Engine jobs through the queue: `ritsu submit train` -> eval -> merge on a real ritsud and
// ritsu-worker (CPU slots, a tiny random Qwen3, a handful of steps), `ritsu run eval` in the
// foreground, and the submit-time checks (missing input, existing output, unknown flag).
// Only plumbing is asserted here (states, stored metrics, files); whether training helps is
// engine/train's functional test and the quickstart's job.
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/integration/harness.h"

namespace ritsu::itest {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string Engine() { return BinaryPath("engine/app/ritsu-engine"); }
std::string RitsuBin() { return BinaryPath("cli/ritsu"); }

std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// `cd DIR && ritsu ARGS...`: the CLI resolves relative paths against its working directory.
CmdResult RitsuIn(const fs::path& dir, const std::string& endpoint, const std::vector<std::string>& args,
                  std::chrono::milliseconds timeout = 30s) {
  std::string cmd = fmt::format("cd {} && RITSU_ENGINE={} exec {} --scheduler {}", Quote(dir.string()), Quote(Engine()),
                                Quote(RitsuBin()), endpoint);
  for (const auto& a : args) cmd += " " + Quote(a);
  return RunCommand({"/bin/sh", "-c", cmd}, timeout);
}

// One tiny model and a small lawqa_jp split for the whole suite (making them costs seconds).
class JobsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    data_ = fs::temp_directory_path() / fmt::format("ritsu-jobs-test-{}", ::getpid());
    fs::create_directories(data_);
    auto run = [](std::vector<std::string> argv) {
      CmdResult r = RunCommand(argv, 120s);
      ASSERT_EQ(r.code, 0) << fmt::format("{}\n{}{}", fmt::join(argv, " "), r.out, r.err);
    };
    run({Engine(), "make-model", "--arch", "qwen3", "--preset", "tiny", "--seed", "7", "--out",
         (data_ / "model").string(), "--tokenizer-from", std::string(RITSU_DATA_ROOT) + "/models/qwen3-tokenizer"});
    run({Engine(), "data", "split", "--data", std::string(RITSU_DATA_ROOT) + "/data/lawqa_jp/selection.json",
         "--train-out", (data_ / "train.json").string(), "--test-out", (data_ / "test.json").string(),
         "--train-size", "6", "--test-size", "4"});
    run({Engine(), "data", "build-ft", "--data", (data_ / "train.json").string(), "--output",
         (data_ / "ft.jsonl").string(), "--mode", "direct"});
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(data_, ec);
  }
  void SetUp() override {
    ASSERT_TRUE(fs::exists(data_ / "ft.jsonl")) << "suite set-up failed";
    // Each test works in the cluster's temp dir with relative paths, as a user would.
    for (const char* f : {"model", "train.json", "test.json", "ft.jsonl"}) {
      fs::create_symlink(data_ / f, c_.dir() / f);
    }
  }

  static inline fs::path data_;
  Cluster c_;
};

TEST_F(JobsTest, TrainThenEvalAndMergeThroughTheQueue) {
  c_.StartScheduler();
  c_.StartWorker("w", "cpu0:mem=4G,cpu1:mem=4G", {"--engine", Engine()});
  CmdResult t = RitsuIn(c_.dir(), c_.endpoint(),
                        {"submit", "train", "--model-name", "model", "--train-file", "ft.jsonl", "--output-dir", "lora",
                         "--max-steps-override", "3", "--batch-size", "2", "--learning-rate", "1e-2",
                         "--max-seq-length", "512", "--loss-on-output-only", "--logging-steps", "1", "--gpus", "0"});
  ASSERT_EQ(t.code, 0) << t.out << t.err;
  const std::string train_id = t.out.substr(0, t.out.find('\n'));
  CmdResult e = RitsuIn(c_.dir(), c_.endpoint(),
                        {"submit", "eval", "--data", "train.json", "--output", "eval-ft.json", "--hf-model-name", "model",
                         "--hf-lora-path", "lora", "--no-rag", "--no-few-shot", "--samples", "3", "--max-new-tokens", "2",
                         "--after", train_id, "--gpus", "0", "--name", "eval-ft"});
  ASSERT_EQ(e.code, 0) << e.out << e.err;
  // The adapter does not exist yet: accepted because a dependency may write it, and said so.
  EXPECT_NE(e.err.find("expected from a dependency"), std::string::npos) << e.err;
  const std::string eval_id = e.out.substr(0, e.out.find('\n'));
  CmdResult m = RitsuIn(c_.dir(), c_.endpoint(),
                        {"submit", "merge", "--base", "model", "--lora", "lora", "--output", "merged", "--gguf", "q8_0",
                         "--after", train_id});
  ASSERT_EQ(m.code, 0) << m.out << m.err;
  const std::string merge_id = m.out.substr(0, m.out.find('\n'));

  CmdResult w = c_.Ritsu({"wait", train_id, eval_id, merge_id, "--timeout", "150s"}, 170s);
  ASSERT_EQ(w.code, 0) << w.out << w.err << c_.Logs() << c_.Ritsu({"logs", train_id, "--merged"}).out
                       << c_.Ritsu({"logs", eval_id, "--merged"}).out << c_.Ritsu({"logs", merge_id, "--merged"}).out;

  auto train = c_.Show(std::stoull(train_id));
  EXPECT_EQ(train["spec"]["kind"], "train");
  EXPECT_EQ(train["state"], "SUCCEEDED");
  EXPECT_TRUE(train["metrics"].contains("train_loss")) << train.dump();
  EXPECT_EQ(train["spec"]["cwd"], c_.dir().string());
  auto eval = c_.Show(std::stoull(eval_id));
  EXPECT_EQ(eval["state"], "SUCCEEDED");
  EXPECT_TRUE(eval["metrics"].contains("accuracy")) << eval.dump();
  auto merge = c_.Show(std::stoull(merge_id));
  EXPECT_EQ(merge["state"], "SUCCEEDED");
  EXPECT_EQ(merge["spec"]["resources"]["gpus"], 0) << "merge computes on the CPU";

  EXPECT_TRUE(fs::exists(c_.dir() / "lora" / "adapter_config.json"));
  EXPECT_TRUE(fs::exists(c_.dir() / "eval-ft.json"));
  EXPECT_TRUE(fs::exists(c_.dir() / "merged" / "config.json"));
  EXPECT_TRUE(fs::exists(c_.dir() / "merged" / "model-q8_0.gguf"));

  // The status table shows the stored metrics.
  CmdResult st = c_.Ritsu({"status"});
  ASSERT_EQ(st.code, 0) << st.err;
  EXPECT_NE(st.out.find("train_loss="), std::string::npos) << st.out;
  EXPECT_NE(st.out.find("accuracy="), std::string::npos) << st.out;
}

TEST_F(JobsTest, RunEvalInTheForeground) {
  CmdResult r = RitsuIn(c_.dir(), "tcp://127.0.0.1:1",
                        {"run", "eval", "--data", "test.json", "--output", "fg.json", "--hf-model-name", "model",
                         "--no-rag", "--samples", "2", "--max-new-tokens", "2", "--device", "cpu"},
                        120s);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  std::ifstream in(c_.dir() / "fg.json");
  ASSERT_TRUE(in) << "ritsu run eval wrote no output";
  auto j = nlohmann::json::parse(in);
  EXPECT_EQ(j["summary"]["total_count"], 2);
  // The engine's own exit code comes back: an existing output is refused by the engine.
  CmdResult again = RitsuIn(c_.dir(), "tcp://127.0.0.1:1",
                            {"run", "eval", "--data", "test.json", "--output", "fg.json", "--hf-model-name", "model",
                             "--no-rag", "--samples", "2"});
  EXPECT_NE(again.code, 0);
  EXPECT_NE(again.err.find("fg.json"), std::string::npos) << again.err;
  // Queue flags have no meaning in the foreground.
  CmdResult q = RitsuIn(c_.dir(), "tcp://127.0.0.1:1",
                        {"run", "eval", "--data", "test.json", "--output", "x.json", "--hf-model-name", "model",
                         "--priority", "3"});
  EXPECT_EQ(q.code, 2);
  EXPECT_NE(q.err.find("--priority is a queue flag"), std::string::npos) << q.err;
}

TEST_F(JobsTest, SubmitTimeErrorsNameTheFlag) {
  c_.StartScheduler();  // never reached by the refused submits; needed by the accepted one
  CmdResult missing = RitsuIn(c_.dir(), c_.endpoint(),
                              {"submit", "train", "--model-name", "model", "--train-file", "nope.jsonl", "--output-dir",
                               "out"});
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.err.find("--train-file " + (c_.dir() / "nope.jsonl").string() + ": no such file"),
            std::string::npos)
      << missing.err;

  fs::create_directories(c_.dir() / "out");
  CmdResult exists = RitsuIn(c_.dir(), c_.endpoint(),
                             {"submit", "train", "--model-name", "model", "--train-file", "ft.jsonl", "--output-dir",
                              "out"});
  EXPECT_EQ(exists.code, 2);
  EXPECT_NE(exists.err.find("--output-dir " + (c_.dir() / "out").string() + ": already exists"), std::string::npos)
      << exists.err;
  EXPECT_NE(exists.err.find("--overwrite"), std::string::npos) << exists.err;

  CmdResult typo = RitsuIn(c_.dir(), c_.endpoint(),
                           {"submit", "train", "--model-name", "model", "--train-file", "ft.jsonl", "--output-dir",
                            "out2", "--lerning-rate", "1e-4"});
  EXPECT_EQ(typo.code, 2);
  EXPECT_NE(typo.err.find("unknown flag --lerning-rate (did you mean --learning-rate?)"), std::string::npos)
      << typo.err;

  // With --overwrite it is accepted; eval on a GPU gets an estimated memory request.
  CmdResult ok = RitsuIn(c_.dir(), c_.endpoint(),
                         {"submit", "eval", "--data", "test.json", "--output", "out", "--hf-model-name", "model",
                          "--overwrite"});
  ASSERT_EQ(ok.code, 0) << ok.out << ok.err;
  auto j = c_.Show(std::stoull(ok.out));
  EXPECT_EQ(j["spec"]["resources"]["gpus"], 1);
  // tiny Qwen3: 151936 x 64 tied embedding in bf16 = 19 MB; + 512 MiB fixed overhead, x1.1.
  EXPECT_GT(j["spec"]["resources"]["gpu_mem_bytes"].get<uint64_t>(), 580'000'000u);
  EXPECT_LT(j["spec"]["resources"]["gpu_mem_bytes"].get<uint64_t>(), 700'000'000u);
  auto argv = j["spec"]["argv"];
  EXPECT_NE(std::find(argv.begin(), argv.end(), (c_.dir() / "test.json").string()), argv.end()) << argv.dump();
  EXPECT_NE(std::find(argv.begin(), argv.end(), "--overwrite"), argv.end()) << argv.dump();
}


// examples/sweep-lora.toml, shrunk (one rank, 2 steps, 2 questions): each trial's train then
// eval of that trial's adapter on the test split, metrics shown by `sweep status`.
TEST_F(JobsTest, ExampleSweepTrainsThenEvaluatesEachTrial) {
  std::ifstream in(std::string(RITSU_SOURCE_DIR) + "/examples/sweep-lora.toml");
  ASSERT_TRUE(in) << "examples/sweep-lora.toml missing";
  std::stringstream ss;
  ss << in.rdbuf();
  std::string toml = ss.str();
  auto replace = [&](const std::string& from, const std::string& to) {
    auto pos = toml.find(from);
    ASSERT_NE(pos, std::string::npos) << "the example no longer contains " << from;
    toml.replace(pos, from.size(), to);
  };
  replace("lora_r = [8, 16]", "lora_r = [8]");
  replace("steps = \"80\"", "steps = \"2\"");
  replace("samples = \"0\"", "samples = \"2\"");
  std::ofstream(c_.dir() / "sweep-lora.toml") << toml;

  c_.StartScheduler();
  c_.StartWorker("w", "cpu0:mem=4G,cpu1:mem=4G", {"--engine", Engine()});
  CmdResult sub = c_.Ritsu({"sweep", "submit", (c_.dir() / "sweep-lora.toml").string(), "--json"});
  ASSERT_EQ(sub.code, 0) << sub.out << sub.err;
  auto j = sub.Json();
  ASSERT_EQ(j["task_ids"].size(), 4u) << sub.out;  // 2 trials x (train, eval)
  std::vector<std::string> wait = {"wait", "--timeout", "150s"};
  for (const auto& id : j["task_ids"]) wait.push_back(std::to_string(id.get<uint64_t>()));
  CmdResult w = c_.Ritsu(wait, 170s);
  ASSERT_EQ(w.code, 0) << w.out << w.err << c_.Logs();
  for (const char* lr : {"4e-3", "8e-3"}) {
    EXPECT_TRUE(fs::exists(c_.dir() / "runs" / "sweep-lora" / fmt::format("lr{}-r8", lr) / "eval-test.json")) << lr;
  }
  CmdResult st = c_.Ritsu({"sweep", "status", std::to_string(j["sweep_id"].get<uint64_t>())});
  ASSERT_EQ(st.code, 0) << st.err;
  EXPECT_NE(st.out.find("accuracy="), std::string::npos) << st.out;
}

// ---- Interrupted training through the queue: the retry resumes from the last checkpoint and
// the final adapter is byte-identical to an uninterrupted run with the same flags. ----

std::vector<std::string> ResumeTrainArgs(const std::string& out, std::vector<std::string> extra = {}) {
  std::vector<std::string> a = {"submit", "train", "--model-name", "model", "--train-file", "ft.jsonl", "--output-dir", out,
                                "--max-steps-override", "40", "--batch-size", "2", "--learning-rate", "1e-2",
                                "--max-seq-length", "512", "--loss-on-output-only", "--logging-steps", "1",
                                "--save-steps", "2", "--gpus", "0"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

std::string FileBytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The step the retry's log says it resumed from ("train: resuming from checkpoint-N (step N)"), or -1.
int ResumedStep(const std::string& log) {
  auto at = log.find("resuming from checkpoint-");
  if (at == std::string::npos) return -1;
  auto step = log.find("(step ", at);
  return step == std::string::npos ? -1 : std::atoi(log.c_str() + step + 6);
}

class ResumeTest : public JobsTest {
 protected:
  uint64_t Submit(const std::vector<std::string>& args) {
    CmdResult t = RitsuIn(c_.dir(), c_.endpoint(), args);
    EXPECT_EQ(t.code, 0) << t.out << t.err;
    return t.code == 0 ? std::stoull(t.out) : 0;
  }
  // Waits until the run has written checkpoint-2 (and is still training: 40 steps).
  void WaitForFirstCheckpoint(const std::string& out) {
    ASSERT_TRUE(WaitFor([&] { return fs::exists(c_.dir() / out / "checkpoint-2" / "adapter_model.safetensors"); }, 120s))
        << c_.Logs();
  }
  // An uninterrupted run with the same flags; its adapter must equal `out`'s byte for byte.
  void ExpectSameAdapterAsAnUninterruptedRun(const std::string& out) {
    uint64_t ref = Submit(ResumeTrainArgs("lora-ref"));
    CmdResult w = c_.Ritsu({"wait", std::to_string(ref), "--timeout", "150s"}, 170s);
    ASSERT_EQ(w.code, 0) << w.out << w.err << c_.Ritsu({"logs", std::to_string(ref), "--merged"}).out;
    std::string want = FileBytes(c_.dir() / "lora-ref" / "adapter_model.safetensors");
    ASSERT_FALSE(want.empty());
    EXPECT_TRUE(FileBytes(c_.dir() / out / "adapter_model.safetensors") == want)
        << "the resumed run's adapter differs from the uninterrupted run's";
  }
};

TEST_F(ResumeTest, KilledWorkerMidTrainingRetryResumesAndEndsByteIdentical) {
  c_.heartbeat_timeout = "1500ms";  // how long the dead worker's task waits before its requeue
  c_.StartScheduler();
  c_.StartWorker("wa", "cpu0:mem=4G", {"--engine", Engine()});
  uint64_t id = Submit(ResumeTrainArgs("lora-a", {"--max-attempts", "2"}));
  WaitForFirstCheckpoint("lora-a");
  c_.KillWorker("wa", SIGKILL);
  c_.StartWorker("wb", "cpu0:mem=4G", {"--engine", Engine()});
  CmdResult w = c_.Ritsu({"wait", std::to_string(id), "--timeout", "150s"}, 170s);
  ASSERT_EQ(w.code, 0) << w.out << w.err << c_.Logs() << c_.Ritsu({"logs", std::to_string(id), "--merged"}).out;
  auto j = c_.Show(id);
  ASSERT_EQ(j["attempts"].size(), 2u) << j.dump(2);
  EXPECT_EQ(j["attempts"][0]["worker"], "wa");
  EXPECT_EQ(j["attempts"][1]["worker"], "wb");
  std::string log2 = c_.Ritsu({"logs", std::to_string(id), "--attempt", "2", "--merged"}).out;
  EXPECT_GT(ResumedStep(log2), 0) << log2;
  ExpectSameAdapterAsAnUninterruptedRun("lora-a");
}

TEST_F(ResumeTest, DrainRequeueMidTrainingPreemptsResumesElsewhereAndEndsByteIdentical) {
  c_.StartScheduler();
  c_.StartWorker("wa", "cpu0:mem=4G", {"--engine", Engine()});  // --kill-grace 2s: plenty for one tiny step
  uint64_t id = Submit(ResumeTrainArgs("lora-p"));  // max_attempts 1: a preemption must not use it up
  WaitForFirstCheckpoint("lora-p");
  c_.StartWorker("wb", "cpu0:mem=4G", {"--engine", Engine()});
  CmdResult d = c_.Ritsu({"drain", "wa", "--requeue"});
  ASSERT_EQ(d.code, 0) << d.err;
  CmdResult w = c_.Ritsu({"wait", std::to_string(id), "--timeout", "150s"}, 170s);
  ASSERT_EQ(w.code, 0) << w.out << w.err << c_.Logs() << c_.Ritsu({"logs", std::to_string(id), "--merged"}).out;
  auto j = c_.Show(id);
  ASSERT_EQ(j["attempts"].size(), 2u) << j.dump(2);
  EXPECT_EQ(j["attempts"][0]["outcome"], "PREEMPTED");
  EXPECT_EQ(j["attempts"][0]["exit_code"], 75);
  EXPECT_EQ(j["attempts"][1]["worker"], "wb");
  std::string log1 = c_.Ritsu({"logs", std::to_string(id), "--attempt", "1", "--merged"}).out;
  EXPECT_NE(log1.find("preempted at step"), std::string::npos) << log1;
  std::string log2 = c_.Ritsu({"logs", std::to_string(id), "--attempt", "2", "--merged"}).out;
  EXPECT_GT(ResumedStep(log2), 0) << log2;
  // The trainer's metric series came through the queue too (attempt 2: the resumed steps).
  CmdResult m = c_.Ritsu({"metrics", std::to_string(id), "--json"});
  ASSERT_EQ(m.code, 0) << m.err;
  auto recs = m.Json()["records"];
  ASSERT_FALSE(recs.empty()) << m.out;
  EXPECT_EQ(recs.back()["step"], 40) << m.out;
  ExpectSameAdapterAsAnUninterruptedRun("lora-p");
}

}  // namespace
}  // namespace ritsu::itest
