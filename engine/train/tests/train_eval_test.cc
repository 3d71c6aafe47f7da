// Evaluation during training, checkpoint selection, automatic resume and preemption, on the
// tiny random Qwen3 with the real tokenizer:
//  - the in-training eval_accuracy at step N is what `ritsu-engine eval` reports for
//    checkpoint-N with the same flags, question by question (same responses, same answers);
//  - --load-best-model-at-end / --save-total-limit / early stopping keep and stop as HF does;
//  - trainer_state.json holds HF TrainerState's fields only;
//  - SIGTERM -> checkpoint + exit 75; --resume auto then ends on the uninterrupted adapter.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/eval/engine_generator.h"
#include "engine/train/best_model.h"
#include "engine/train/stop_signal.h"
#include "engine/train/tests/train_fixture.h"
#include "engine/train/train_main.h"

namespace ritsu::train {
namespace {

namespace fs = std::filesystem;
using engine::testing::TempDir;
using nlohmann::json;
using namespace ritsu::train::testing;

std::string SelectionPath() {
  const std::string shared = std::string(RITSU_DATA_ROOT) + "/data/lawqa_jp/selection.json";
  if (fs::exists(shared)) return shared;
  return std::string(RITSU_SOURCE_DIR) + "/data/lawqa_jp/selection.json";
}

std::vector<std::string> SmallData() {
  return {R"({"input": "民法第1条は何を定めていますか", "output": "a", "meta": {"mode": "direct"}})",
          R"({"input": "会社法の目的は", "output": "b", "meta": {"mode": "direct"}})",
          R"({"input": "金融商品取引法第5条", "output": "c", "meta": {"mode": "direct"}})",
          R"({"input": "刑法第199条", "output": "d", "meta": {"mode": "direct"}})"};
}

// RunTraining with a hook after every step (the preemption tests raise SIGTERM from it).
Result<TrainSummary> TrainWithHook(const std::vector<std::string>& args, std::function<void(int64_t)> hook,
                                   std::string* output) {
  std::vector<std::string> all = {"train"};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  RITSU_ASSIGN_OR_RETURN(TrainOptions o, ParseTrainArgs(static_cast<int>(argv.size()), argv.data()));
  o.after_step = std::move(hook);
  std::ostringstream out, err;
  auto r = RunTraining(o, out, err);
  if (output) *output = out.str() + err.str();
  return r;
}

std::vector<json> ReadJsonLines(const std::string& path) {
  std::vector<json> out;
  std::ifstream f(path);
  for (std::string line; std::getline(f, line);) out.push_back(json::parse(line));
  return out;
}

class TrainEval : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    WriteTinyQwen3(*dir_ / "model", 7, 0.2);
    WriteLines(*dir_ / "data.jsonl", SmallData());
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string Model() { return *dir_ / "model"; }
  static std::string Data() { return *dir_ / "data.jsonl"; }
  std::vector<std::string> Base(const std::string& out, int steps) {
    return {"--model-name", Model(), "--train-file", Data(), "--output-dir", out, "--max-steps-override",
            std::to_string(steps), "--batch-size", "2", "--learning-rate", "1e-2", "--lora-r", "4",
            "--target-modules", "q_proj,v_proj,down_proj", "--logging-steps", "1", "--warmup-ratio", "0",
            "--lr-scheduler", "constant", "--loss-on-output-only"};
  }
  static TempDir* dir_;
  TempDir out_;
};
TempDir* TrainEval::dir_ = nullptr;

TEST_F(TrainEval, InTrainingAccuracyEqualsEngineEvalOnTheCheckpointQuestionByQuestion) {
  const std::string out = out_ / "run";
  const std::string series = out_ / "series.jsonl";
  const std::string metrics = out_ / "metrics.json";
  setenv("RITSU_METRICS_SERIES", series.c_str(), 1);
  setenv("RITSU_METRICS_FILE", metrics.c_str(), 1);
  auto args = Base(out, 4);
  args.insert(args.end(), {"--eval-file", SelectionPath(), "--eval-steps", "2", "--save-steps", "2",
                           "--eval-samples", "4", "--eval-no-rag", "--eval-max-new-tokens", "6",
                           "--eval-batch-size", "3"});
  std::string log;
  auto r = TrainWithHook(args, nullptr, &log);
  unsetenv("RITSU_METRICS_SERIES");
  unsetenv("RITSU_METRICS_FILE");
  ASSERT_TRUE(r.ok()) << r.status().ToString() << log;
  ASSERT_TRUE(fs::exists(out + "/checkpoint-2")) << log;

  // `ritsu-engine eval` on checkpoint-2 (and on the final adapter, step 4) with the same flags.
  auto engine_eval = [&](const std::string& lora, const std::string& output) {
    std::ostringstream o, e;
    const int rc = eval::EvalMainWith({"--data", SelectionPath(), "--output", output, "--samples", "4", "--no-rag",
                                       "--max-new-tokens", "6", "--batch-size", "3", "--hf-model-name", Model(),
                                       "--hf-lora-path", lora, "--device", "cpu"},
                                      eval::MakeEngineEvalBackends(), o, e);
    EXPECT_EQ(rc, 0) << e.str();
    return json::parse(ReadFileBytes(output));
  };
  auto state = json::parse(ReadFileBytes(out + "/trainer_state.json"));
  std::map<int64_t, json> eval_entries;
  for (const auto& h : state["log_history"]) {
    if (h.contains("eval_loss")) eval_entries[h["step"].get<int64_t>()] = h;
  }
  ASSERT_EQ(eval_entries.size(), 2u) << state.dump();
  std::set<std::string> responses_by_step;
  for (const auto& [step, lora] : std::vector<std::pair<int64_t, std::string>>{{2, out + "/checkpoint-2"}, {4, out}}) {
    const json want = engine_eval(lora, out_ / ("engine-eval-" + std::to_string(step) + ".json"));
    const json got = json::parse(ReadFileBytes(out + "/eval/step-" + std::to_string(step) + ".json"));
    ASSERT_EQ(want["results"].size(), 4u);
    ASSERT_EQ(got["results"].size(), 4u);
    std::string all;
    for (size_t i = 0; i < 4; ++i) {
      EXPECT_EQ(got["results"][i]["response"], want["results"][i]["response"]) << "step " << step << " q " << i;
      EXPECT_EQ(got["results"][i]["predicted_answer"], want["results"][i]["predicted_answer"]) << step << " " << i;
      all += want["results"][i]["response"].get<std::string>() + "\n";
    }
    responses_by_step.insert(all);
    EXPECT_EQ(eval_entries[step]["eval_accuracy"], want["summary"]["accuracy"]) << step;
    EXPECT_EQ(eval_entries[step]["eval_samples"], 4);
    EXPECT_GT(eval_entries[step]["eval_loss"].get<double>(), 0.0);
  }
  // The adapter moved between the two evaluations: they generated different text, so the
  // equality above compares the trained weights, not just the base model.
  EXPECT_EQ(responses_by_step.size(), 2u);

  // The metrics series: one train record per progress line, one eval record per evaluation.
  const auto recs = ReadJsonLines(series);
  int train_recs = 0, eval_recs = 0;
  for (const auto& rec : recs) {
    if (rec["kind"] == "train") {
      ++train_recs;
      for (const char* k : {"step", "epoch", "loss", "learning_rate", "grad_norm", "tokens_per_second"}) {
        EXPECT_TRUE(rec.contains(k)) << k;
      }
      EXPECT_FALSE(rec.contains("gpu_mem_bytes"));  // not measured on the CPU
    } else {
      ASSERT_EQ(rec["kind"], "eval");
      ++eval_recs;
      EXPECT_EQ(rec["eval_accuracy"], eval_entries[rec["step"].get<int64_t>()]["eval_accuracy"]);
      EXPECT_EQ(rec["eval_loss"], eval_entries[rec["step"].get<int64_t>()]["eval_loss"]);
      EXPECT_EQ(rec["eval_samples"], 4);
    }
  }
  EXPECT_EQ(train_recs, 4);
  EXPECT_EQ(eval_recs, 2);
  const json m = json::parse(ReadFileBytes(metrics));
  EXPECT_EQ(m["steps"], 4);
  EXPECT_TRUE(m.contains("best_metric") && m.contains("best_step") && m.contains("best_eval_accuracy")) << m.dump();
  EXPECT_EQ(m["eval_accuracy"], eval_entries[4]["eval_accuracy"]);
}

// HF TrainerState's fields (transformers/trainer_callback.py): TrainerState.load_from_json
// passes the file's keys as keyword arguments, so any other key makes it fail.
const std::set<std::string> kHfTrainerStateFields = {
    "epoch", "global_step", "max_steps", "logging_steps", "eval_steps", "save_steps", "train_batch_size",
    "num_train_epochs", "num_input_tokens_seen", "total_flos", "log_history", "best_metric", "best_global_step",
    "best_model_checkpoint", "is_local_process_zero", "is_world_process_zero", "is_hyper_param_search",
    "trial_name", "trial_params", "stateful_callbacks"};

TEST_F(TrainEval, BestCheckpointSaveTotalLimitAndEarlyStopping) {
  const std::string out = out_ / "best";
  // eval_loss with greater-is-better: training lowers the loss, so the first evaluation stays
  // the best and two evaluations without improvement stop the run at step 3 of 8.
  auto args = Base(out, 8);
  args.insert(args.end(), {"--eval-file", Data(), "--eval-steps", "1", "--metric-for-best-model", "eval_loss",
                           "--greater-is-better", "true", "--load-best-model-at-end", "--save-total-limit", "2",
                           "--early-stopping-patience", "2"});
  std::string log;
  auto r = TrainWithHook(args, nullptr, &log);
  ASSERT_TRUE(r.ok()) << r.status().ToString() << log;
  EXPECT_EQ(r->steps, 3) << log;
  EXPECT_NE(log.find("early stopping at step 3"), std::string::npos) << log;
  // Limit 2: checkpoint-2 deleted; the best (1) and the newest (3) kept.
  EXPECT_EQ(CheckpointSteps(out), (std::vector<int64_t>{1, 3})) << log;
  EXPECT_NE(log.find("deleted checkpoint-2"), std::string::npos) << log;
  // The output dir's adapter is the best one; the final one is checkpoint-last.
  EXPECT_EQ(ReadFileBytes(out + "/adapter_model.safetensors"), ReadFileBytes(out + "/checkpoint-1/adapter_model.safetensors"));
  EXPECT_EQ(ReadFileBytes(out + "/checkpoint-last/adapter_model.safetensors"),
            ReadFileBytes(out + "/checkpoint-3/adapter_model.safetensors"));
  EXPECT_NE(ReadFileBytes(out + "/adapter_model.safetensors"),
            ReadFileBytes(out + "/checkpoint-last/adapter_model.safetensors"));

  const json state = json::parse(ReadFileBytes(out + "/trainer_state.json"));
  for (const auto& [k, v] : state.items()) EXPECT_TRUE(kHfTrainerStateFields.count(k)) << "not a TrainerState field: " << k;
  for (const char* k : {"log_history", "best_metric", "best_model_checkpoint", "global_step", "epoch", "max_steps"}) {
    EXPECT_TRUE(state.contains(k)) << k;
  }
  EXPECT_EQ(state["global_step"], 3);
  EXPECT_EQ(state["best_model_checkpoint"], out + "/checkpoint-1");
  std::vector<double> losses;
  for (const auto& h : state["log_history"]) {
    if (h.contains("eval_loss")) losses.push_back(h["eval_loss"].get<double>());
  }
  ASSERT_EQ(losses.size(), 3u);
  EXPECT_LT(losses[2], losses[0]);  // the precondition: training lowered it
  EXPECT_EQ(state["best_metric"], losses[0]);
  EXPECT_EQ(state["stateful_callbacks"]["EarlyStoppingCallback"]["attributes"]["early_stopping_patience_counter"], 2);
  EXPECT_EQ(state["stateful_callbacks"]["TrainerControl"]["args"]["should_training_stop"], true);
  // Each checkpoint's trainer_state.json is HF's too.
  const json ck = json::parse(ReadFileBytes(out + "/checkpoint-3/trainer_state.json"));
  for (const auto& [k, v] : ck.items()) EXPECT_TRUE(kHfTrainerStateFields.count(k)) << k;

  // A retry with --resume auto resumes the stopped run and does not train on.
  auto again = args;
  again.insert(again.end(), {"--resume", "auto"});
  r = TrainWithHook(again, nullptr, &log);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->steps, 3);
  EXPECT_EQ(ReadFileBytes(out + "/adapter_model.safetensors"), ReadFileBytes(out + "/checkpoint-1/adapter_model.safetensors"));
}

TEST_F(TrainEval, SigtermCheckpointsAndResumeAutoEndsOnTheUninterruptedAdapter) {
  ASSERT_TRUE(TrainWithHook(Base(out_ / "straight", 6), nullptr, nullptr).ok());
  InstallStopSignalHandlers();
  const std::string out = out_ / "preempted";
  auto args = Base(out, 6);
  args.insert(args.end(), {"--resume", "auto"});
  std::string log;
  // Two signals during step 3: the step finishes, one checkpoint is written.
  auto r = TrainWithHook(args, [](int64_t step) {
    if (step == 3) {
      raise(SIGTERM);
      raise(SIGTERM);
    }
  }, &log);
  ClearStopRequest();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_NE(log.find("no checkpoint in " + out + ": starting fresh"), std::string::npos) << log;
  EXPECT_TRUE(r->preempted);
  EXPECT_EQ(r->steps, 3);
  EXPECT_NE(log.find("preempted at step 3: checkpoint-3 written; resume with --resume auto"), std::string::npos) << log;
  EXPECT_EQ(LatestCheckpoint(out), out + "/checkpoint-3");
  EXPECT_FALSE(fs::exists(out + "/adapter_model.safetensors"));  // no final adapter from a stopped run

  // A stop requested before any new step: nothing is written.
  RequestStop();
  r = TrainWithHook(args, nullptr, &log);
  ClearStopRequest();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->preempted);
  EXPECT_NE(log.find("no step since checkpoint-3, nothing new written"), std::string::npos) << log;
  EXPECT_EQ(CheckpointSteps(out), (std::vector<int64_t>{3}));

  r = TrainWithHook(args, nullptr, &log);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->preempted);
  EXPECT_NE(log.find("resuming from checkpoint-3 (step 3)"), std::string::npos) << log;
  const std::string want = ReadFileBytes(out_ / "straight/adapter_model.safetensors");
  ASSERT_FALSE(want.empty());
  EXPECT_TRUE(want == ReadFileBytes(out + "/adapter_model.safetensors")) << "resume after SIGTERM diverged";
}

// SIGTERM in a step whose evaluation is due: the checkpoint is written at once (an evaluation
// can outlast the grace period) and the resumed run evaluates that step first, so the history,
// the best model and the adapter are those of the uninterrupted run.
TEST_F(TrainEval, SigtermBeforeADueEvaluationDefersItToTheResumedRun) {
  auto with_eval = [&](const std::string& out) {
    auto args = Base(out, 4);
    args.insert(args.end(), {"--eval-file", Data(), "--eval-steps", "2", "--save-steps", "2", "--resume", "auto"});
    return args;
  };
  ASSERT_TRUE(TrainWithHook(with_eval(out_ / "straight"), nullptr, nullptr).ok());
  InstallStopSignalHandlers();
  const std::string out = out_ / "deferred";
  std::string log;
  auto r = TrainWithHook(with_eval(out), [](int64_t step) {
    if (step == 2) raise(SIGTERM);
  }, &log);
  ClearStopRequest();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->preempted);
  EXPECT_NE(log.find("preempted at step 2: checkpoint-2 written"), std::string::npos) << log;
  EXPECT_EQ(log.find("eval step 2/4"), std::string::npos) << "the evaluation ran before the checkpoint:\n" << log;
  r = TrainWithHook(with_eval(out), nullptr, &log);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_NE(log.find("evaluating step 2, deferred by the preemption"), std::string::npos) << log;
  EXPECT_EQ(ReadFileBytes(out_ / "straight/adapter_model.safetensors"), ReadFileBytes(out + "/adapter_model.safetensors"));
  const json want = json::parse(ReadFileBytes(out_ / "straight/trainer_state.json"));
  const json got = json::parse(ReadFileBytes(out + "/trainer_state.json"));
  ASSERT_EQ(got["log_history"].size(), want["log_history"].size()) << got.dump();
  for (size_t i = 0; i < want["log_history"].size(); ++i) {
    for (const char* k : {"step", "loss", "eval_loss"}) {
      EXPECT_EQ(got["log_history"][i].value(k, json()), want["log_history"][i].value(k, json())) << i << " " << k;
    }
  }
  EXPECT_EQ(got["best_metric"], want["best_metric"]);
  auto relative = [](const json& path, const std::string& base) {
    return path.is_string() ? path.get<std::string>().substr(base.size()) : std::string("null");
  };
  EXPECT_EQ(relative(got["best_model_checkpoint"], out), relative(want["best_model_checkpoint"], out_ / "straight"));
}

// The real process contract: `ritsu-engine train` (TrainMain) exits 75 on SIGTERM, with the
// checkpoint written and the line saying so.
TEST_F(TrainEval, SigtermToTheProcessExitsWith75AfterACheckpoint) {
  const std::string out = out_ / "proc";
  const std::string log_path = out_ / "stdout.txt";
  auto args = Base(out, 100000);  // far more than the test waits for
  args.insert(args.begin(), "train");
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    FILE* f = freopen(log_path.c_str(), "w", stdout);
    if (!f) _exit(99);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    _exit(TrainMain(static_cast<int>(argv.size()), argv.data()));
  }
  // Wait (bounded) until two steps are logged, then ask it to stop.
  bool started = false;
  for (int i = 0; i < 600 && !started; ++i) {
    started = ReadFileBytes(log_path).find("step 2/100000") != std::string::npos;
    if (!started) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  kill(pid, SIGTERM);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(started) << ReadFileBytes(log_path);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), kPreemptedExitCode) << ReadFileBytes(log_path);
  const std::string text = ReadFileBytes(log_path);
  const auto at = text.find("preempted at step ");
  ASSERT_NE(at, std::string::npos) << text;
  const int64_t step = std::stoll(text.substr(at + 18));
  EXPECT_GE(step, 2);
  EXPECT_EQ(LatestCheckpoint(out), out + "/checkpoint-" + std::to_string(step));
}

TEST_F(TrainEval, BadEvalFileIsNamedAndNothingIsTrained) {
  WriteLines(out_ / "bad.jsonl", {R"({"input": "x", "output": "a"})", "not json"});
  for (const auto& [file, want] : std::vector<std::pair<std::string, std::string>>{
           {out_ / "missing.json", "--eval-file"}, {out_ / "bad.jsonl", out_ / "bad.jsonl:2"}}) {
    auto args = Base(out_ / "bad", 2);
    args.insert(args.end(), {"--eval-file", file});
    auto r = TrainWithHook(args, nullptr, nullptr);
    ASSERT_FALSE(r.ok()) << file;
    EXPECT_NE(r.status().message().find(want), std::string::npos) << r.status().message();
    EXPECT_TRUE(CheckpointSteps(out_ / "bad").empty());
    EXPECT_FALSE(fs::exists(out_ / "bad/adapter_model.safetensors"));
  }
}

TEST_F(TrainEval, EpochStrategyEvaluatesAtEachEpochEndAndTheLastStep) {
  const std::string out = out_ / "epoch";
  auto args = Base(out, 6);
  args.insert(args.end(), {"--batch-size", "1", "--eval-file", Data()});  // 4 steps per epoch; --eval-strategy epoch inferred
  std::string log;
  auto r = TrainWithHook(args, nullptr, &log);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::vector<int64_t> steps;
  const json state = json::parse(ReadFileBytes(out + "/trainer_state.json"));
  for (const auto& h : state["log_history"]) {
    if (h.contains("eval_loss")) steps.push_back(h["step"].get<int64_t>());
  }
  EXPECT_EQ(steps, (std::vector<int64_t>{4, 6})) << log;
}

TEST(BestModel, RotationKeepsTheBestAndTheNewestAsHfDoes) {
  EXPECT_EQ(CheckpointsToDelete({1, 2, 3, 4}, 2, -1), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(CheckpointsToDelete({1, 2, 3, 4}, 2, 1), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(CheckpointsToDelete({1, 2, 3, 4}, 1, 2), (std::vector<int64_t>{1, 3}));  // limit 1 keeps 2
  EXPECT_EQ(CheckpointsToDelete({1, 2, 3, 4}, 1, 4), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(CheckpointsToDelete({1, 2, 3, 4}, 0, 1), (std::vector<int64_t>{}));  // no limit
  EXPECT_EQ(CheckpointsToDelete({5}, 1, 9), (std::vector<int64_t>{}));
}

TEST(BestModel, EarlyStoppingComparesWithThePreviousBestBeyondTheThreshold) {
  const BestModelTracker acc("eval_accuracy", true, 2, 0.05);
  BestModelState s;
  EXPECT_TRUE(acc.Observe(1, {{"eval_accuracy", 0.50}}, &s));
  EXPECT_TRUE(acc.Observe(2, {{"eval_accuracy", 0.52}}, &s));  // new best, but within the threshold
  EXPECT_EQ(s.patience_counter, 1);
  EXPECT_FALSE(acc.Observe(3, {{"eval_accuracy", 0.40}}, &s));
  EXPECT_TRUE(s.should_training_stop);
  EXPECT_EQ(s.best_step, 2);
  EXPECT_DOUBLE_EQ(s.best_metric, 0.52);
  const BestModelTracker loss("eval_loss", false, 0, 0.0);
  BestModelState l;
  EXPECT_TRUE(loss.Observe(1, {{"eval_loss", 2.0}}, &l));
  EXPECT_FALSE(loss.Observe(2, {{"eval_loss", 2.0}}, &l));  // equal is not better
  EXPECT_TRUE(loss.Observe(3, {{"eval_loss", 1.0}}, &l));
  EXPECT_FALSE(loss.Observe(4, {{"eval_accuracy", 1.0}}, &l));  // not the tracked metric
  EXPECT_FALSE(l.should_training_stop);
  EXPECT_EQ(l.best_step, 3);
}

TEST(TrainOptions, EvalAndSelectionFlagsFollowHf) {
  auto parse = [](std::vector<std::string> args) {
    std::vector<std::string> all = {"train", "--model-name", "m", "--train-file", "t.jsonl", "--output-dir", "o"};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    return ParseTrainArgs(static_cast<int>(argv.size()), argv.data());
  };
  auto o = parse({"--eval-file", "test.json", "--eval-steps", "5"});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->eval_strategy, "steps");
  EXPECT_EQ(o->metric_for_best_model, "eval_accuracy");
  EXPECT_TRUE(o->greater_is_better);
  o = parse({"--eval-file", "dev.jsonl", "--logging-steps", "7", "--eval-strategy", "steps"});
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->eval_steps, 7);  // HF: eval_steps defaults to logging_steps
  EXPECT_EQ(o->metric_for_best_model, "eval_loss");
  EXPECT_FALSE(o->greater_is_better);
  o = parse({"--eval-file", "test.json", "--metric-for-best-model", "loss"});
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->eval_strategy, "epoch");
  EXPECT_EQ(o->metric_for_best_model, "eval_loss");
  EXPECT_FALSE(o->greater_is_better);
  for (const auto& [bad, flag] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--eval-strategy", "steps"}, "--eval-strategy steps needs --eval-file"},
           {{"--load-best-model-at-end"}, "--load-best-model-at-end needs --eval-file"},
           {{"--eval-file", "dev.jsonl", "--metric-for-best-model", "eval_accuracy"}, "--metric-for-best-model"},
           {{"--eval-file", "x.json", "--eval-strategy", "sometimes"}, "--eval-strategy sometimes"},
           {{"--eval-file", "x.json", "--greater-is-better", "maybe"}, "--greater-is-better maybe"},
           {{"--no-resume", "--resume", "auto"}, "--no-resume and --resume"},
           {{"--early-stopping-patience", "3"}, "--early-stopping-patience needs --eval-file"}}) {
    auto r = parse(bad);
    ASSERT_FALSE(r.ok()) << flag;
    EXPECT_NE(r.status().message().find(flag), std::string::npos) << r.status().message();
  }
}

}  // namespace
}  // namespace ritsu::train
