// The Qwen model on the CPU backend, end to end, against an independent float64 forward, and
// the equivalences the engine relies on (KV cache, batching, NF4, LoRA).
#include "engine/model/model.h"

#include <cmath>
#include <fstream>
#include <random>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/model/generator.h"
#include "engine/model/tests/reference_qwen.h"
#include "engine/model/tests/test_dir.h"
#include "engine/model/tests/tiny_model.h"

namespace ritsu::engine {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;

std::vector<int32_t> RandomTokens(size_t n, uint32_t seed, int32_t vocab) {
  std::mt19937 rng(seed);
  std::vector<int32_t> t(n);
  for (auto& x : t) x = static_cast<int32_t>(rng() % static_cast<uint32_t>(vocab));
  return t;
}

// max |a - b| / max(|b|): one number per comparison, scale-free.
double MaxRelDiff(const std::vector<float>& a, const std::vector<double>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num = std::max(num, std::abs(static_cast<double>(a[i]) - b[i]));
    den = std::max(den, std::abs(b[i]));
  }
  return num / den;
}

double MaxRelDiff(const std::vector<float>& a, const std::vector<float>& b) {
  return MaxRelDiff(a, std::vector<double>(b.begin(), b.end()));
}

std::unique_ptr<Model> LoadOrDie(const std::string& dir, Backend& b, ModelLoadOptions o = {}) {
  auto m = Model::Load(dir, b, o);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return m.ok() ? std::move(m).value() : nullptr;
}

std::vector<float> LogitsOrDie(Model& m, const std::vector<int32_t>& tokens, bool all) {
  auto l = ComputeLogits(m, tokens, all);
  EXPECT_TRUE(l.ok()) << l.status().ToString();
  return l.ok() ? *l : std::vector<float>{};
}

struct ArchCase {
  Arch arch;
  bool tie;
  const char* name;
};

// gtest prints the parameter with this (instead of its raw bytes) in test names and failures.
void PrintTo(const ArchCase& c, std::ostream* os) { *os << c.name; }

class ModelVsReference : public ::testing::TestWithParam<ArchCase> {};

// Tolerance: the engine runs fp32 with fp32 accumulation over dot products of <= 128 terms,
// through 2 layers; its error against float64 measured 6e-7..9e-7 of the logit scale. 1e-4 leaves 100x
// margin, while any real mistake (RoPE pairing, a missing bias or norm, a GQA mapping) moves
// logits by O(10%) of their scale.
constexpr double kFp32Tol = 1e-4;

TEST_P(ModelVsReference, AllPositionLogitsMatchFloat64Reference) {
  TempDir dir;
  const ModelConfig cfg = testing::TinyConfig(GetParam().arch, GetParam().tie);
  testing::WriteTinyModel(cfg, 11, dir.path());
  const ModelConfig c = LoadModelConfig(dir.path()).value();
  auto backend = MakeCpuBackend();
  auto model = LoadOrDie(dir.path(), *backend);
  ASSERT_TRUE(model);
  const auto tokens = RandomTokens(13, 5, static_cast<int32_t>(c.vocab_size));
  const auto got = LogitsOrDie(*model, tokens, /*all=*/true);
  const auto ref = testing::ReferenceLogits(c, testing::ToDouble(testing::ReadAllFloat(dir.path())), tokens);
  ASSERT_EQ(got.size(), tokens.size() * static_cast<size_t>(c.vocab_size));
  std::vector<double> flat;
  for (const auto& row : ref) flat.insert(flat.end(), row.begin(), row.end());
  const double rel = MaxRelDiff(got, flat);
  EXPECT_LT(rel, kFp32Tol) << GetParam().name;
  // The reference is not trivially small: logits spread over O(1).
  double mx = 0;
  for (double v : flat) mx = std::max(mx, std::abs(v));
  EXPECT_GT(mx, 0.5);
  // Last-position mode returns the last row of the same computation.
  const auto last = LogitsOrDie(*model, tokens, /*all=*/false);
  EXPECT_LT(MaxRelDiff(last, ref.back()), kFp32Tol);
}

INSTANTIATE_TEST_SUITE_P(Archs, ModelVsReference,
                         ::testing::Values(ArchCase{Arch::kQwen3, true, "qwen3_tied"},
                                           ArchCase{Arch::kQwen3, false, "qwen3_untied"},
                                           ArchCase{Arch::kQwen2, false, "qwen2_untied"},
                                           ArchCase{Arch::kQwen2, true, "qwen2_tied"}),
                         [](const auto& info) { return std::string(info.param.name); });

class TinyQwen3 : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::WriteTinyModel(testing::TinyConfig(Arch::kQwen3, false), 3, dir_.path());
    backend_ = MakeCpuBackend();
    model_ = LoadOrDie(dir_.path(), *backend_);
    ASSERT_TRUE(model_);
  }
  TempDir dir_;
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<Model> model_;
};

TEST_F(TinyQwen3, KvCacheDecodeEqualsFullReforward) {
  const auto tokens = RandomTokens(12, 9, 320);
  const int64_t V = 320, prefill = 5;
  KvCache cache = model_->NewKvCache(2, 16);
  std::vector<float> stepwise;
  // Prefill 5 tokens into slot 1 (slot 0 stays unused: slots must not leak into each other).
  StepLayout step;
  step.segments = {{1, 0, static_cast<int32_t>(prefill)}};
  step.Finalize();
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < prefill; ++i) rows.push_back(i);
  auto l = model_->Forward({tokens.begin(), tokens.begin() + prefill}, step, cache, rows);
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  stepwise.resize(static_cast<size_t>(l->numel()));
  backend_->Download(*l, stepwise.data());
  for (size_t t = prefill; t < tokens.size(); ++t) {
    StepLayout d;
    d.segments = {{1, static_cast<int32_t>(t), 1}};
    d.Finalize();
    auto dl = model_->Forward({tokens[t]}, d, cache, {0});
    ASSERT_TRUE(dl.ok()) << dl.status().ToString();
    std::vector<float> row(static_cast<size_t>(V));
    backend_->Download(*dl, row.data());
    stepwise.insert(stepwise.end(), row.begin(), row.end());
  }
  const auto full = LogitsOrDie(*model_, tokens, true);
  ASSERT_EQ(stepwise.size(), full.size());
  // Same fp32 arithmetic in a different order (decode kernel vs prefill kernel): 1e-5.
  EXPECT_LT(MaxRelDiff(stepwise, full), 1e-5);
}

TEST_F(TinyQwen3, ForwardRefusesPositionsOutsideTheCache) {
  KvCache cache = model_->NewKvCache(1, 4);
  StepLayout step;
  step.segments = {{0, 2, 3}};
  step.Finalize();
  auto l = model_->Forward({1, 2, 3}, step, cache, {2});
  ASSERT_FALSE(l.ok());
  EXPECT_THAT(l.status().message(), HasSubstr("do not fit the KV cache"));
  StepLayout ok;
  ok.segments = {{0, 0, 1}};
  ok.Finalize();
  auto bad_token = model_->Forward({999}, ok, cache, {0});
  ASSERT_FALSE(bad_token.ok());
  EXPECT_THAT(bad_token.status().message(), HasSubstr("token id 999"));
}

SamplingOptions NoEos(int64_t max_new) {
  SamplingOptions o;
  o.max_new_tokens = max_new;
  o.stop_token_ids = {-1};
  return o;
}

TEST_F(TinyQwen3, BatchedGenerationEqualsOneByOne) {
  const std::vector<std::vector<int32_t>> prompts = {RandomTokens(1, 1, 320), RandomTokens(9, 2, 320),
                                                     RandomTokens(5, 3, 320), RandomTokens(14, 4, 320),
                                                     RandomTokens(3, 5, 320)};
  SamplingOptions batched = NoEos(7);
  batched.max_batch = 3;            // fewer slots than prompts: slots are reused
  batched.prefill_chunk_tokens = 4;  // prompts prefilled in chunks, mixed with decode rows
  auto all = GenerateBatch(*model_, prompts, batched);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  for (size_t i = 0; i < prompts.size(); ++i) {
    auto one = GenerateBatch(*model_, {prompts[i]}, NoEos(7));
    ASSERT_TRUE(one.ok());
    EXPECT_EQ((*all)[i].tokens, (*one)[0].tokens) << "prompt " << i;
    EXPECT_EQ((*all)[i].tokens.size(), 7u);
    EXPECT_EQ((*all)[i].finish, FinishReason::kLength);
    EXPECT_EQ((*all)[i].prompt_tokens, static_cast<int64_t>(prompts[i].size()));
  }
  // Greedy continuation == argmax of a full forward over prompt + continuation.
  std::vector<int32_t> seq = prompts[1];
  seq.insert(seq.end(), (*all)[1].tokens.begin(), (*all)[1].tokens.end() - 1);
  const auto full = LogitsOrDie(*model_, seq, true);
  for (size_t j = 0; j < (*all)[1].tokens.size(); ++j) {
    const float* row = full.data() + (prompts[1].size() - 1 + j) * 320;
    EXPECT_EQ(std::max_element(row, row + 320) - row, (*all)[1].tokens[j]) << "step " << j;
  }
}

TEST_F(TinyQwen3, StopsAtStopTokenAndKeepsIt) {
  const auto prompt = RandomTokens(6, 8, 320);
  auto free_run = GenerateBatch(*model_, {prompt}, NoEos(6));
  ASSERT_TRUE(free_run.ok());
  const int32_t stop = (*free_run)[0].tokens[2];
  SamplingOptions o = NoEos(6);
  o.stop_token_ids = {stop};
  auto stopped = GenerateBatch(*model_, {prompt}, o);
  ASSERT_TRUE(stopped.ok());
  const auto& t = (*stopped)[0].tokens;
  ASSERT_FALSE(t.empty());
  EXPECT_EQ(t.back(), stop);
  EXPECT_LE(t.size(), 3u);
  EXPECT_EQ((*stopped)[0].finish, FinishReason::kStop);
}

TEST_F(TinyQwen3, SamplingIsReproducibleBySeedAndIndependentOfBatching) {
  const std::vector<std::vector<int32_t>> prompts = {RandomTokens(4, 1, 320), RandomTokens(7, 2, 320),
                                                     RandomTokens(2, 3, 320)};
  SamplingOptions o = NoEos(12);
  o.temperature = 1.5f;
  o.top_k = 100;
  o.top_p = 0.95f;
  o.seed = 1234;
  o.max_batch = 3;
  auto a = GenerateBatch(*model_, prompts, o);
  auto b = GenerateBatch(*model_, prompts, o);
  o.max_batch = 1;
  auto c = GenerateBatch(*model_, prompts, o);
  o.seed = 4321;
  auto d = GenerateBatch(*model_, prompts, o);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok() && d.ok());
  int differing = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    EXPECT_EQ((*a)[i].tokens, (*b)[i].tokens);
    EXPECT_EQ((*a)[i].tokens, (*c)[i].tokens);
    differing += (*a)[i].tokens != (*d)[i].tokens;
  }
  EXPECT_GT(differing, 0) << "another seed must change the samples";
  auto greedy = GenerateBatch(*model_, prompts, NoEos(12));
  ASSERT_TRUE(greedy.ok());
  int from_greedy = 0;
  for (size_t i = 0; i < prompts.size(); ++i) from_greedy += (*a)[i].tokens != (*greedy)[i].tokens;
  EXPECT_GT(from_greedy, 0) << "temperature 1.5 must not behave as greedy";
}

TEST_F(TinyQwen3, BadPromptsAreErrorsNamingThePrompt) {
  SamplingOptions o = NoEos(4);
  auto too_long = GenerateBatch(*model_, {RandomTokens(3, 1, 320), RandomTokens(65, 2, 320)}, o);
  ASSERT_FALSE(too_long.ok());
  EXPECT_THAT(too_long.status().message(), HasSubstr("prompt 1 has 65 tokens"));
  EXPECT_THAT(too_long.status().message(), HasSubstr("context of 64"));
  auto empty = GenerateBatch(*model_, {{}}, o);
  ASSERT_FALSE(empty.ok());
  EXPECT_THAT(empty.status().message(), HasSubstr("prompt 0 is empty"));
  o.max_context = 8;
  auto over = GenerateBatch(*model_, {RandomTokens(9, 1, 320)}, o);
  EXPECT_FALSE(over.ok());
  // A prompt that fits stops at the context limit instead of overrunning the cache.
  auto capped = GenerateBatch(*model_, {RandomTokens(6, 1, 320)}, o);
  ASSERT_TRUE(capped.ok()) << capped.status().ToString();
  EXPECT_EQ((*capped)[0].tokens.size(), 3u);  // positions 6, 7 fed; the 3rd token needs position 8
  EXPECT_EQ((*capped)[0].finish, FinishReason::kLength);
}

TEST(ModelLoad, WrongShapeOrMissingTensorNamesIt) {
  TempDir dir;
  const ModelConfig c = testing::TinyConfig(Arch::kQwen2, false);
  auto weights = testing::ReadAllFloat([&] {
    testing::WriteTinyModel(c, 1, dir / "good");
    return dir / "good";
  }());
  // A config claiming a bigger intermediate size than the tensors hold.
  ModelConfig wrong = c;
  wrong.intermediate_size = 192;
  testing::WriteFloatModel(c, weights, dir / "bad");
  std::ofstream(dir / "bad/config.json") << wrong.ToJson().dump();
  auto backend = MakeCpuBackend();
  auto m = Model::Load(dir / "bad", *backend);
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(m.status().message(), HasSubstr("model.layers.0.mlp.gate_proj.weight has shape [128, 64]"));
  // Qwen2 without its q bias.
  weights.erase("model.layers.1.self_attn.q_proj.bias");
  std::vector<TensorData> tensors;
  for (const auto& [name, shape] : CheckpointTensorShapes(c)) {
    if (weights.count(name)) tensors.push_back(TensorData::FromFloat(name, DType::kF32, shape, weights.at(name)));
  }
  ASSERT_TRUE(WriteCheckpointDir(dir / "nobias", tensors, 1ull << 40).ok());
  std::ofstream(dir / "nobias/config.json") << c.ToJson().dump();
  m = Model::Load(dir / "nobias", *backend);
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(m.status().message(), HasSubstr("model.layers.1.self_attn.q_proj.bias is missing"));
}

}  // namespace
}  // namespace ritsu::engine
