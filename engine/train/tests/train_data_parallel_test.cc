// Data-parallel training (--gpus N) on CPU replicas, the CI stand-in for GPUs: the same step
// logic (data_parallel.h) with the host all-reduce in place of NCCL. N replicas with
// accumulation A must train the adapter one replica trains with accumulation N x A, dropout
// included; the reducer sums in a fixed order and never leaves a replica waiting for a failed
// one; --gpus errors name the flag.
#include <atomic>
#include <cmath>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/train/data_parallel.h"
#include "engine/train/gradient_reducer.h"
#include "engine/train/replica_threads.h"
#include "engine/train/tests/train_fixture.h"

namespace ritsu::train {
namespace {

namespace fs = std::filesystem;
using engine::testing::TempDir;
using namespace ritsu::train::testing;

Result<TrainOptions> Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "train");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return ParseTrainArgs(static_cast<int>(argv.size()), argv.data());
}

// ---- the host reducer and the replica threads

TEST(HostGradientReducer, SumsInReplicaOrderIdenticallyOnEveryReplica) {
  constexpr int kN = 3;
  // Sizes below, at and above the replica count, so some replicas own no element of a buffer.
  const std::vector<size_t> sizes = {1, 3, 7, 1000};
  std::vector<std::vector<std::vector<float>>> data(kN);  // [replica][buffer][element]
  for (int r = 0; r < kN; ++r) {
    for (size_t b = 0; b < sizes.size(); ++b) {
      std::vector<float> v(sizes[b]);
      // Magnitudes far apart, so a different association of the sum gives different bits.
      for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>((r == 1 ? 1e8 : 1.0) * std::sin(1.0 + i + 7 * b + 13 * r));
      data[r].push_back(v);
    }
  }
  auto expected = data[0];
  for (size_t b = 0; b < sizes.size(); ++b) {
    for (size_t i = 0; i < sizes[b]; ++i) {
      float s = 0.0f;
      for (int r = 0; r < kN; ++r) s += data[r][b][i];
      expected[b][i] = s;
    }
  }
  auto reducer = MakeHostGradientReducer(kN);
  std::vector<Status> st(kN);
  std::vector<std::thread> threads;
  for (int r = 0; r < kN; ++r) {
    threads.emplace_back([&, r] {
      std::vector<GradSpan> spans;
      for (auto& v : data[r]) spans.push_back({v.data(), v.size()});
      st[r] = reducer->AllReduceSum(r, spans);
    });
  }
  for (auto& t : threads) t.join();
  for (int r = 0; r < kN; ++r) {
    ASSERT_TRUE(st[r].ok()) << st[r].ToString();
    for (size_t b = 0; b < sizes.size(); ++b) {
      for (size_t i = 0; i < sizes[b]; ++i) {
        ASSERT_EQ(data[r][b][i], expected[b][i]) << "replica " << r << " buffer " << b << " element " << i;
      }
    }
  }
}

TEST(HostGradientReducer, IsReusableAcrossSteps) {
  constexpr int kN = 2, kSteps = 50;
  auto reducer = MakeHostGradientReducer(kN);
  std::vector<std::vector<float>> v(kN, std::vector<float>(5));
  std::vector<char> ok(kN, 1);  // not vector<bool>: its packed bits would race between threads
  std::vector<std::thread> threads;
  for (int r = 0; r < kN; ++r) {
    threads.emplace_back([&, r] {
      for (int s = 0; s < kSteps; ++s) {
        for (float& x : v[r]) x = static_cast<float>(s + r);
        if (!reducer->AllReduceSum(r, {{v[r].data(), v[r].size()}}).ok()) ok[r] = false;
        for (float x : v[r]) ok[r] = ok[r] && x == static_cast<float>(2 * s + 1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_TRUE(ok[0] && ok[1]);
}

TEST(HostGradientReducer, AbortReleasesAReplicaWaitingForAFailedOne) {
  auto reducer = MakeHostGradientReducer(2);
  std::vector<float> g(4, 1.0f);
  Status st;
  std::thread waiting([&] { st = reducer->AllReduceSum(0, {{g.data(), g.size()}}); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  reducer->Abort();  // replica 1 failed before its all-reduce
  waiting.join();
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("another replica failed"), std::string::npos) << st.message();
}

TEST(ReplicaThreads, RunsOnDistinctThreadsAndReportsTheFirstFailure) {
  ReplicaThreads threads(3);
  std::vector<std::thread::id> ids(3);
  ASSERT_TRUE(threads.RunOnAll([&](int r) {
                ids[r] = std::this_thread::get_id();
                return Status::Ok();
              }).ok());
  EXPECT_NE(ids[0], ids[1]);
  EXPECT_NE(ids[1], ids[2]);
  EXPECT_NE(ids[0], std::this_thread::get_id());
  // The same thread serves a replica every time (its CUDA device stays current there).
  std::thread::id again;
  ASSERT_TRUE(threads.RunOn(1, [&] {
                again = std::this_thread::get_id();
                return Status::Ok();
              }).ok());
  EXPECT_EQ(again, ids[1]);

  // Replica 2 throws; the others wait in a reducer until the failure hook aborts it.
  auto reducer = MakeHostGradientReducer(3);
  std::atomic<int> hooks{0};
  threads.set_on_failure([&] {
    ++hooks;
    reducer->Abort();
  });
  std::vector<float> g(3, 1.0f);
  std::vector<std::vector<float>> bufs(3, g);
  EXPECT_THROW((void)threads.RunOnAll([&](int r) -> Status {
                 if (r == 2) throw std::runtime_error("replica 2 out of memory");
                 return reducer->AllReduceSum(r, {{bufs[r].data(), bufs[r].size()}});
               }),
               std::runtime_error);
  EXPECT_EQ(hooks.load(), 3);  // the thrower, then the two released with an error

  // One thread: runs on the caller, exceptions propagate as they are.
  ReplicaThreads one(1);
  std::thread::id mine;
  ASSERT_TRUE(one.RunOnAll([&](int) {
                mine = std::this_thread::get_id();
                return Status::Ok();
              }).ok());
  EXPECT_EQ(mine, std::this_thread::get_id());
}

// ---- --gpus

TEST(DataParallelFlags, GpusParsesAndIsCheckedBeforeAnythingIsLoaded) {
  EXPECT_EQ(Parse({"--model-name", "m", "--train-file", "t", "--output-dir", "o", "--gpus", "all"})->gpus, 0);
  EXPECT_EQ(Parse({"--model-name", "m", "--train-file", "t", "--output-dir", "o", "--gpus", "2"})->gpus, 2);
  EXPECT_EQ(Parse({"--model-name", "m", "--train-file", "t", "--output-dir", "o"})->gpus, 1);
  EXPECT_NE(Parse({"--model-name", "m", "--train-file", "t", "--output-dir", "o", "--gpus", "-1"})
                .status().message().find("--gpus -1: must be >= 0"),
            std::string::npos);
  EXPECT_NE(Parse({"--model-name", "m", "--train-file", "t", "--output-dir", "o", "--gpus", "two"})
                .status().message().find("--gpus two: not an integer"),
            std::string::npos);

  // The model directory does not exist: the --gpus error must come first.
  auto run = [](std::vector<std::string> extra) {
    std::vector<std::string> a = {"--model-name", "/nonexistent/model", "--train-file", "/nonexistent/t.jsonl",
                                  "--output-dir", "/nonexistent/o"};
    a.insert(a.end(), extra.begin(), extra.end());
    auto r = Train(a);
    return r.ok() ? std::string("ok") : r.status().message();
  };
  EXPECT_NE(run({"--gpus", "2"}).find("--gpus 2: data parallel runs over CUDA GPUs; add --device cuda"),
            std::string::npos)
      << run({"--gpus", "2"});
  // More GPUs than this machine shows (none in CI; one more than visible on a GPU machine).
  const int visible = VisibleCudaDevices();
  const std::string want = std::to_string(std::max(2, visible + 1));
  const std::string m = run({"--device", "cuda", "--gpus", want});
  const bool no_cuda = m.find("--gpus " + want + ": this ritsu-engine was built without CUDA") != std::string::npos;
  const bool too_many = m.find("--gpus " + want + ": only " + std::to_string(visible) + " CUDA GPU") != std::string::npos;
  EXPECT_TRUE(no_cuda || too_many) << m;
  const std::string from1 = run({"--device", "cuda:1", "--gpus", "all"});
  EXPECT_NE(from1.find("--gpus all"), std::string::npos) << from1;
}

// ---- end to end: N replicas x accumulation A == 1 replica x accumulation N*A

std::vector<std::string> Data() {
  return {R"({"input": "民法第1条は何を定めていますか", "output": "a"})",
          R"({"input": "会社法の目的は", "output": "b"})",
          R"({"input": "金融商品取引法第5条", "output": "c"})",
          R"({"input": "刑法第199条", "output": "d"})",
          R"({"input": "理由を考えて答えよ", "output": "まず条文を読む。答えは a"})",
          R"({"input": "憲法第9条", "output": "b"})",
          R"({"input": "民事訴訟法第1条", "output": "c c"})"};
}

class DataParallelRun : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    WriteTinyQwen3(*dir_ / "model", 7, 0.2);
    WriteLines(*dir_ / "data.jsonl", Data());
  }
  static void TearDownTestSuite() { delete dir_; }

  // `replicas` CPU replicas, `accum` micro-batches each per step.
  Result<TrainSummary> Run(const std::string& out, int replicas, int accum, double dropout,
                           std::vector<std::string> extra = {}, std::string* log = nullptr) {
    std::vector<std::string> a = {"--model-name", *dir_ / "model", "--train-file", *dir_ / "data.jsonl",
                                  "--output-dir", out, "--max-steps-override", "4", "--batch-size", "1",
                                  "--gradient-accumulation-steps", std::to_string(accum), "--lora-dropout",
                                  std::to_string(dropout), "--learning-rate", "1e-2", "--warmup-ratio", "0",
                                  "--lr-scheduler", "cosine", "--target-modules", "all-linear", "--lora-r", "4",
                                  "--logging-steps", "1", "--seed", "3", "--loss-on-output-only"};
    a.insert(a.end(), extra.begin(), extra.end());
    a.insert(a.begin(), "train");
    std::vector<char*> argv;
    for (auto& s : a) argv.push_back(s.data());
    RITSU_ASSIGN_OR_RETURN(TrainOptions o, ParseTrainArgs(static_cast<int>(argv.size()), argv.data()));
    o.cpu_replicas = replicas;
    std::ostringstream os, es;
    auto r = RunTraining(o, os, es);
    if (log) *log = os.str() + es.str();
    return r;
  }

  static engine::LoraAdapter Adapter(const std::string& dir) {
    auto config = engine::LoadModelConfig(*dir_ / "model").value();
    return engine::LoraAdapter::Load(dir, config).value();
  }
  static nlohmann::json History(const std::string& dir) {
    return nlohmann::json::parse(ReadFileBytes(dir + "/trainer_state.json"))["log_history"];
  }

  // Worst over the LoRA tensors of max |a - b| / max |a|.
  static double WorstDifference(const std::string& want, const std::string& got) {
    const auto a = Adapter(want), b = Adapter(got);
    EXPECT_EQ(a.weights.size(), b.weights.size());
    double worst = 0;
    for (const auto& [key, w] : a.weights) {
      const auto& v = b.weights.at(key);
      for (const auto& [x, y] : {std::pair{&w.a, &v.a}, std::pair{&w.b, &v.b}}) {
        EXPECT_EQ(x->size(), y->size()) << "layer " << key.first;
        double diff = 0, mx = 0;
        for (size_t i = 0; i < x->size() && i < y->size(); ++i) {
          diff = std::max(diff, static_cast<double>(std::abs((*x)[i] - (*y)[i])));
          mx = std::max(mx, static_cast<double>(std::abs((*x)[i])));
        }
        worst = std::max(worst, diff / std::max(mx, 1e-30));
      }
    }
    return worst;
  }

  // Same steps, data order and schedule; losses and gradient norms equal up to fp32 summation
  // order; each LoRA tensor within `tol` of its largest entry.
  static void ExpectSameTraining(const std::string& want, const std::string& got, double tol) {
    const auto h1 = History(want), h2 = History(got);
    ASSERT_EQ(h1.size(), 4u);
    ASSERT_EQ(h1.size(), h2.size());
    double loss_rel = 0, norm_rel = 0;
    for (size_t i = 0; i < h1.size(); ++i) {
      EXPECT_EQ(h1[i]["step"], h2[i]["step"]);
      EXPECT_EQ(h1[i]["epoch"], h2[i]["epoch"]) << "data position differs at step " << i + 1;
      EXPECT_EQ(h1[i]["learning_rate"], h2[i]["learning_rate"]);
      // The loss is a sum of the same per-micro-batch terms in another order (double on the
      // host; each micro-batch's own sum is computed identically) on weights that differ by
      // rounding from step 2 on (measured 1.4e-8): 1e-6 relative.
      const double l1 = h1[i]["loss"].get<double>(), l2 = h2[i]["loss"].get<double>();
      EXPECT_NEAR(l1, l2, 1e-6 * std::abs(l1)) << "step " << i + 1;
      // The gradient norm: fp32 sums of the same micro-batch gradients associated differently
      // (~1e-7 relative each), then slightly different weights from step 2 on (measured 1.3e-7):
      // 1e-5 relative, as the accumulation test in train_run_test.cc.
      const double g1 = h1[i]["grad_norm"].get<double>(), g2 = h2[i]["grad_norm"].get<double>();
      EXPECT_NEAR(g1, g2, 1e-5 * std::abs(g1)) << "step " << i + 1;
      loss_rel = std::max(loss_rel, std::abs(l1 - l2) / std::abs(l1));
      norm_rel = std::max(norm_rel, std::abs(g1 - g2) / std::abs(g1));
    }
    double bmax = 0;
    for (const auto& [key, w] : Adapter(want).weights) {
      for (float x : w.b) bmax = std::max(bmax, static_cast<double>(std::abs(x)));
    }
    ASSERT_GT(bmax, 1e-3) << "B did not move: the comparison would be vacuous";
    const double worst = WorstDifference(want, got);
    EXPECT_LT(worst, tol) << "worst LoRA tensor difference, relative to the tensor's max";
    std::cout << "[ measured: loss " << loss_rel << ", grad_norm " << norm_rel << " relative; LoRA tensors "
              << worst << " of their max ]" << std::endl;
  }

  static TempDir* dir_;
  TempDir out_;
};
TempDir* DataParallelRun::dir_ = nullptr;

// Why 2e-4 of each tensor's max: both runs compute every micro-batch's gradient with the same
// numbers (same weights, samples and dropout masks); only the fp32 sums over micro-batches are
// associated differently (one running sum vs per-replica partial sums added afterwards), ~1e-7
// relative. Adam divides by sqrt(v), so entries whose gradient is near zero move by a larger
// fraction, and 4 steps compound it: measured 2.3e-5 (2 replicas x 2 vs 1 x 4, dropout 0.1) and
// 0 (3 x 1 vs 1 x 3: the same association). Wrong dropout seeds, a missing all-reduce or the
// wrong number of micro-batches per step give 1.8-1.9 (checked by breaking the code once).
constexpr double kAdapterTol = 2e-4;

TEST_F(DataParallelRun, TwoReplicasEqualOneWithTwiceTheAccumulationWithDropout) {
  std::string log;
  ASSERT_TRUE(Run(out_ / "one", 1, 4, 0.1).ok());
  auto r = Run(out_ / "two", 2, 2, 0.1, {}, &log);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_NE(log.find("on 2 x cpu"), std::string::npos) << log;
  EXPECT_NE(log.find("4 steps of 2 replicas x 2 x 1 samples"), std::string::npos) << log;
  ExpectSameTraining(out_ / "one", out_ / "two", kAdapterTol);
  auto results = nlohmann::json::parse(ReadFileBytes(out_ / "two/train_results.json"));
  EXPECT_EQ(results["replicas"], 2);
  auto state = nlohmann::json::parse(ReadFileBytes(out_ / "two/trainer_state.json"));
  EXPECT_EQ(state["global_step"], 4);
}

TEST_F(DataParallelRun, ThreeReplicasWithoutDropoutAndAccumulationOne) {
  ASSERT_TRUE(Run(out_ / "one", 1, 3, 0.0).ok());
  ASSERT_TRUE(Run(out_ / "three", 3, 1, 0.0).ok());
  ExpectSameTraining(out_ / "one", out_ / "three", kAdapterTol);
}

// The dropout masks move the adapter far beyond the tolerance, so the comparison with dropout
// above checks that both runs drew the same masks.
TEST_F(DataParallelRun, DropoutMattersFarBeyondTheTolerance) {
  ASSERT_TRUE(Run(out_ / "with", 1, 4, 0.1).ok());
  ASSERT_TRUE(Run(out_ / "without", 1, 4, 0.0).ok());
  EXPECT_GT(WorstDifference(out_ / "with", out_ / "without"), 100 * kAdapterTol);
}

TEST_F(DataParallelRun, CheckpointsOfReplicaZeroResumeBitExactly) {
  ASSERT_TRUE(Run(out_ / "straight", 2, 1, 0.1).ok());
  ASSERT_TRUE(Run(out_ / "saving", 2, 1, 0.1, {"--save-steps", "2"}).ok());
  ASSERT_TRUE(fs::exists(out_ / "saving/checkpoint-2/optimizer.safetensors"));
  std::string log;
  auto r = Run(out_ / "resumed", 2, 1, 0.1, {"--resume", out_ / "saving/checkpoint-2"}, &log);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_NE(log.find("resuming from checkpoint-"), std::string::npos);
  const std::string a = ReadFileBytes(out_ / "straight/adapter_model.safetensors");
  ASSERT_FALSE(a.empty());
  EXPECT_TRUE(a == ReadFileBytes(out_ / "saving/adapter_model.safetensors")) << "2 replicas are not deterministic";
  EXPECT_TRUE(a == ReadFileBytes(out_ / "resumed/adapter_model.safetensors")) << "resume diverged";
}

}  // namespace
}  // namespace ritsu::train
