// The eval job on ritsu's own engine: a tiny random-weight Qwen3 (real tokenizer, hidden 64,
// 2 layers) evaluated end to end on the CPU backend. Random weights answer nonsense, so the
// test checks the plumbing (prompts in, text out, schema, determinism), not accuracy.
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/eval/engine_generator.h"
#include "engine/eval/tests/test_util.h"
#include "engine/model/config.h"
#include "engine/model/random_model.h"

namespace ritsu::eval {
namespace {

using ::testing::HasSubstr;
using testing_util::ReadFile;
using testing_util::ScratchDir;
using testing_util::SelectionJson;

class EngineEval : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new ScratchDir();
    auto cfg = engine::PresetConfig(engine::Arch::kQwen3, "tiny");
    ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
    engine::RandomModelOptions ro;
    ro.seed = 7;
    ro.tokenizer_dir = std::string(RITSU_DATA_ROOT) + "/models/qwen3-tokenizer";
    Status st = engine::WriteRandomModel(*cfg, ro, dir_->File("tiny"));
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  static void TearDownTestSuite() { delete dir_; }
  static ScratchDir* dir_;
};
ScratchDir* EngineEval::dir_ = nullptr;

TEST_F(EngineEval, TinyModelEndToEndOnCpu) {
  const std::string model = dir_->File("tiny");
  auto run = [&](const std::string& out, std::vector<std::string> extra) {
    std::vector<std::string> args = {"--data", SelectionJson(), "--output", out, "--samples", "2", "--max-new-tokens", "4",
                                     "--device", "cpu", "--hf-model-name", model};
    args.insert(args.end(), extra.begin(), extra.end());
    std::ostringstream o, e;
    int rc = EvalMainWith(args, MakeEngineEvalBackends(), o, e);
    EXPECT_EQ(rc, 0) << e.str();
    return rc == 0 ? nlohmann::json::parse(ReadFile(out)) : nlohmann::json();
  };
  auto a = run(dir_->File("a.json"), {"--no-rag"});
  auto b = run(dir_->File("b.json"), {"--no-rag"});
  ASSERT_FALSE(a.is_null());
  ASSERT_FALSE(b.is_null());
  EXPECT_EQ(a["summary"]["total_count"], 2);
  EXPECT_THAT(a["config"]["generator"].get<std::string>(), HasSubstr("on cpu"));
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_TRUE(a["results"][i]["response"].is_string());
    // Greedy decoding is deterministic.
    EXPECT_EQ(a["results"][i]["response"], b["results"][i]["response"]);
  }
  // Chat format and the LLM reranker run through the same model.
  auto c = run(dir_->File("c.json"), {"--prompt-format", "chat", "--top-k", "3", "--use-reranker", "--rerank-top-n", "2"});
  ASSERT_FALSE(c.is_null());
  EXPECT_EQ(c["results"][0]["retrieved"].size(), 2u);
}

TEST_F(EngineEval, MissingModelDirectoryIsAClearError) {
  std::ostringstream o, e;
  EXPECT_EQ(EvalMainWith({"--data", SelectionJson(), "--output", dir_->File("x.json"), "--hf-model-name",
                          "Qwen/Qwen3-8B", "--device", "cpu"},
                         MakeEngineEvalBackends(), o, e),
            1);
  EXPECT_THAT(e.str(), HasSubstr("not a local model directory"));
}

}  // namespace
}  // namespace ritsu::eval
