// The eval job end to end with a fake generator, the ensemble vote, the output schema, and
// rescore (compare: compare_test.cc).
#include <cstdlib>
#include <filesystem>
#include <map>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/eval/dataset.h"
#include "engine/eval/eval_driver.h"
#include "engine/eval/eval_report.h"
#include "engine/eval/rescore_compare.h"
#include "engine/eval/tests/test_util.h"

namespace ritsu::eval {
namespace {

using ::testing::HasSubstr;
using testing_util::ReadFile;
using testing_util::ReferenceEval;
using testing_util::ScratchDir;
using testing_util::SelectionJson;

// What the fake saw; owned by the test, so it outlives the generator EvalMainWith destroys.
struct FakeLog {
  std::vector<GenOptions> calls;
  std::vector<size_t> batch_sizes;
  std::vector<std::string> seen_prompts;
};

// Answers through a caller-given function of (question index in the data, run options);
// records every call.
class FakeGenerator : public TextGenerator {
 public:
  using Fn = std::function<std::string(int sample, const GenOptions&)>;
  FakeGenerator(std::vector<Sample> data, Fn fn, std::shared_ptr<FakeLog> log)
      : data_(std::move(data)), fn_(std::move(fn)), log_(std::move(log)) {}
  std::vector<std::string> GenerateBatch(const std::vector<std::string>& prompts, const GenOptions& g) override {
    log_->calls.push_back(g);
    log_->batch_sizes.push_back(prompts.size());
    std::vector<std::string> out;
    for (const auto& p : prompts) {
      log_->seen_prompts.push_back(p);
      int which = -1;
      for (size_t i = 0; i < data_.size(); ++i)
        if (p.find(data_[i].question + "\n\n【選択肢】\n" + data_[i].choices_text) != std::string::npos)
          which = static_cast<int>(i);
      EXPECT_GE(which, 0) << "prompt of no known question";
      out.push_back(fn_(which, g));
    }
    return out;
  }
  std::string Describe() const override { return "fake"; }

 private:
  std::vector<Sample> data_;
  Fn fn_;
  std::shared_ptr<FakeLog> log_;
};

std::vector<Sample> Selection() {
  auto s = LoadDataset(SelectionJson());
  EXPECT_TRUE(s.ok());
  return *s;
}

char Wrong(char c) { return c == 'a' ? 'b' : 'a'; }

EvalBackends BackendsFor(const std::shared_ptr<FakeLog>& log, FakeGenerator::Fn fn) {
  EvalBackends b;
  b.make_generator = [log, fn](const EvalOptions&) -> Result<std::unique_ptr<TextGenerator>> {
    return std::unique_ptr<TextGenerator>(std::make_unique<FakeGenerator>(Selection(), fn, log));
  };
  b.make_chat_renderer = [](const EvalOptions&) -> Result<ChatRenderer> {
    return ChatRenderer([](const std::string& u) { return "<|im_start|>user\n" + u + "<|im_end|>\n<|im_start|>assistant\n"; });
  };
  b.make_reranker = [](const EvalOptions&, TextGenerator*) -> Result<RerankScorer> {
    return RerankScorer([](const std::string&, const Passage& p) { return -static_cast<double>(p.text.size()); });
  };
  return b;
}

TEST(EvalJob, EndToEndAccuracyUnknownsAndSchema) {
  const auto data = Selection();
  ScratchDir dir;
  const std::string out_path = dir.File("eval.json"), metrics = dir.File("metrics.json");
  // Six questions, six answer styles: 3 correct, 2 wrong, 1 unknown.
  FakeGenerator::Fn fn = [&](int i, const GenOptions&) -> std::string {
    const std::string right(1, data[static_cast<size_t>(i)].answer), wrong(1, Wrong(data[static_cast<size_t>(i)].answer));
    switch (i) {
      case 0: return right;
      case 1: return "回答：" + wrong;
      case 2: return "わかりません";
      case 3: return "Reasoning: 条文による。\nAnswer: " + right;
      case 4: return right == "a" ? "ａ" : right == "b" ? "ｂ" : right == "c" ? "ｃ" : "ｄ";
      default: return wrong;
    }
  };
  auto gen = std::make_shared<FakeLog>();
  setenv("RITSU_METRICS_FILE", metrics.c_str(), 1);
  std::ostringstream out, err;
  int rc = EvalMainWith({"--data", SelectionJson(), "--output", out_path, "--samples", "6", "--top-k", "2",
                         "--batch-size", "4", "--max-new-tokens", "16", "--hf-model-name", "tiny"},
                        BackendsFor(gen, fn), out, err);
  unsetenv("RITSU_METRICS_FILE");
  ASSERT_EQ(rc, 0) << err.str();
  EXPECT_THAT(out.str(), HasSubstr("accuracy 0.5000 (3/6), unknown 1"));
  // Batched across questions: 6 questions in batches of 4 -> 4 + 2, greedy, 16 tokens.
  EXPECT_EQ(gen->batch_sizes, (std::vector<size_t>{4, 2}));
  EXPECT_FALSE(gen->calls[0].do_sample);
  EXPECT_EQ(gen->calls[0].max_new_tokens, 16);
  // RAG on by default: every prompt carries numbered passages and the one-shot example.
  for (const auto& p : gen->seen_prompts) {
    EXPECT_THAT(p, HasSubstr("【法令条文】\n[1] "));
    EXPECT_THAT(p, HasSubstr("[2] "));
    EXPECT_THAT(p, HasSubstr("【例】"));
  }

  auto doc = nlohmann::json::parse(ReadFile(out_path));
  for (const char* k : {"rag_enabled", "retriever_type", "llm_model", "few_shot_enabled", "cot_enabled", "reranker_enabled",
                        "reranker_model", "rerank_top_n", "ensemble_runs", "top_k", "total_samples"})
    EXPECT_TRUE(doc["config"].contains(k)) << k;
  EXPECT_EQ(doc["config"]["total_samples"], 6);
  EXPECT_EQ(doc["config"]["llm_model"], "tiny");
  const auto& s = doc["summary"];
  EXPECT_DOUBLE_EQ(s["accuracy"].get<double>(), 0.5);
  EXPECT_EQ(s["correct_count"], 3);
  EXPECT_EQ(s["total_count"], 6);
  EXPECT_EQ(s["unknown_count"], 1);
  EXPECT_EQ(s["predicted_distribution"]["unknown"], 1);
  int truth_total = 0, confusion_total = 0;
  for (const char* l : {"a", "b", "c", "d"}) {
    truth_total += s["truth_distribution"][l].get<int>();
    for (const char* p : {"a", "b", "c", "d", "unknown"}) confusion_total += s["confusion_matrix"][l][p].get<int>();
  }
  EXPECT_EQ(truth_total, 6);
  EXPECT_EQ(confusion_total, 6);
  EXPECT_TRUE(s["timing"].contains("generation_seconds"));
  ASSERT_EQ(doc["results"].size(), 6u);
  for (size_t i = 0; i < 6; ++i) {
    const auto& r = doc["results"][i];
    for (const char* k : {"question", "choices", "correct_answer", "predicted_answer", "is_correct", "response",
                          "retrieved", "retrieved_docs_count", "latency_seconds", "file_name"})
      EXPECT_TRUE(r.contains(k)) << k;
    EXPECT_EQ(r["question"], data[i].question);
    EXPECT_EQ(r["retrieved"].size(), 2u);
    EXPECT_EQ(r["is_correct"], r["predicted_answer"] == r["correct_answer"]);
  }
  EXPECT_EQ(doc["results"][2]["predicted_answer"], "unknown");
  EXPECT_EQ(doc["results"][4]["predicted_answer"], std::string(1, data[4].answer));
  // Metrics for the worker.
  auto m = nlohmann::json::parse(ReadFile(metrics));
  EXPECT_DOUBLE_EQ(m["accuracy"].get<double>(), 0.5);
  EXPECT_EQ(m["unknown_count"], 1);
  // No temporary file left beside the output.
  for (const auto& e : std::filesystem::directory_iterator(std::filesystem::path(out_path).parent_path()))
    EXPECT_EQ(e.path().string().find(".tmp."), std::string::npos) << e.path();

  // The same output again is refused without --overwrite, and left untouched.
  const std::string before = ReadFile(out_path);
  std::ostringstream out2, err2;
  EXPECT_EQ(EvalMainWith({"--data", SelectionJson(), "--output", out_path, "--samples", "2"}, BackendsFor(gen, fn), out2, err2), 2);
  EXPECT_THAT(err2.str(), HasSubstr("pass --overwrite"));
  EXPECT_EQ(ReadFile(out_path), before);
  std::ostringstream out3, err3;
  gen->seen_prompts.clear();
  EXPECT_EQ(EvalMainWith({"--data", SelectionJson(), "--output", out_path, "--samples", "2", "--no-rag", "--overwrite"},
                         BackendsFor(gen, fn), out3, err3), 0) << err3.str();
  for (const auto& p : gen->seen_prompts) EXPECT_THAT(p, ::testing::Not(HasSubstr("【法令条文】")));
}

TEST(EvalJob, EnsembleVoteAndTieRule) {
  const auto data = Selection();
  ScratchDir dir;
  // Per question, the answer of runs 0, 1, 2 (by seed offset from --seed 100).
  const std::vector<std::vector<std::string>> plan = {
      {"b", "c", "b"},          // majority b
      {"c", "d", "わからない"},  // c and d tie one vote each -> earliest run: c
      {"?", "??", "???"},       // no votes -> unknown
      {"d", "a", "a"},          // majority a beats run 0
  };
  FakeGenerator::Fn fn = [&](int i, const GenOptions& g) {
    return plan[static_cast<size_t>(i)][static_cast<size_t>(g.seed - 100)];
  };
  auto gen = std::make_shared<FakeLog>();
  std::ostringstream out, err;
  ASSERT_EQ(EvalMainWith({"--data", SelectionJson(), "--output", dir.File("e.json"), "--samples", "4", "--no-rag",
                          "--ensemble", "3", "--seed", "100", "--use-cot"},
                         BackendsFor(gen, fn), out, err), 0) << err.str();
  ASSERT_EQ(gen->calls.size(), 3u);
  for (size_t r = 0; r < 3; ++r) {
    EXPECT_TRUE(gen->calls[r].do_sample);
    EXPECT_EQ(gen->calls[r].seed, 100 + r);
    EXPECT_EQ(gen->calls[r].max_new_tokens, 1024);  // CoT default
  }
  for (const auto& p : gen->seen_prompts) EXPECT_THAT(p, HasSubstr("各選択肢を条文に照らして"));
  auto doc = nlohmann::json::parse(ReadFile(dir.File("e.json")));
  const auto& res = doc["results"];
  EXPECT_EQ(res[0]["predicted_answer"], "b");
  EXPECT_EQ(res[1]["predicted_answer"], "c");
  EXPECT_EQ(res[2]["predicted_answer"], "unknown");
  EXPECT_EQ(res[3]["predicted_answer"], "a");
  EXPECT_EQ(res[1]["votes"], nlohmann::json({"c", "d", "unknown"}));
  EXPECT_EQ(res[0]["responses"].size(), 3u);
  EXPECT_EQ(doc["config"]["ensemble_runs"], 3);
  EXPECT_EQ(doc["config"]["cot_enabled"], true);
}

TEST(EvalJob, MajorityVoteRule) {
  EXPECT_EQ(MajorityVote({"a"}), "a");
  EXPECT_EQ(MajorityVote({"unknown", "b", "c"}), "b");  // tie b/c: b came first
  EXPECT_EQ(MajorityVote({"c", "b", "b", "c"}), "c");   // tie b/c: c came first
  EXPECT_EQ(MajorityVote({"unknown", "unknown"}), "unknown");
  EXPECT_EQ(MajorityVote({"d", "a", "a"}), "a");
}

TEST(EvalJob, ChatFormatAndRerankerUseTheBackends) {
  ScratchDir dir;
  auto gen = std::make_shared<FakeLog>();
  const auto data = Selection();
  FakeGenerator::Fn fn = [&](int i, const GenOptions&) { return std::string(1, data[static_cast<size_t>(i)].answer); };
  std::ostringstream out, err;
  ASSERT_EQ(EvalMainWith({"--data", SelectionJson(), "--output", dir.File("c.json"), "--samples", "3", "--prompt-format",
                          "chat", "--use-reranker", "--rerank-top-n", "1", "--top-k", "4"},
                         BackendsFor(gen, fn), out, err), 0) << err.str();
  for (const auto& p : gen->seen_prompts) {
    EXPECT_EQ(p.rfind("<|im_start|>user\n", 0), 0u);
    EXPECT_THAT(p, ::testing::Not(HasSubstr("[2] ")));  // reranked down to one passage
  }
  auto doc = nlohmann::json::parse(ReadFile(dir.File("c.json")));
  EXPECT_EQ(doc["summary"]["correct_count"], 3);
  EXPECT_EQ(doc["config"]["reranker_enabled"], true);
  EXPECT_EQ(doc["config"]["prompt_format"], "chat");
  EXPECT_EQ(doc["results"][0]["retrieved"].size(), 1u);
}

struct BadFlags {
  std::vector<std::string> args;
  const char* message;
};

class EvalRejects : public ::testing::TestWithParam<BadFlags> {};

TEST_P(EvalRejects, WithExitCode2AndAMessage) {
  ScratchDir dir;
  std::vector<std::string> args = GetParam().args;
  for (auto& a : args)
    if (a == "OUT") a = dir.File("o.json");
  auto gen = std::make_shared<FakeLog>();
  std::ostringstream out, err;
  EXPECT_EQ(EvalMainWith(args, BackendsFor(gen, [](int, const GenOptions&) { return "a"; }), out, err), 2);
  EXPECT_THAT(err.str(), HasSubstr(GetParam().message));
  EXPECT_FALSE(std::filesystem::exists(dir.File("o.json")));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, EvalRejects,
    ::testing::Values(
        BadFlags{{"--output", "OUT"}, "--data is required"},
        BadFlags{{"--data", SelectionJson()}, "--output is required"},
        BadFlags{{"--data", SelectionJson(), "--output", "OUT", "--ensemble", "0"}, "--ensemble must be >= 1"},
        BadFlags{{"--data", SelectionJson(), "--output", "OUT", "--samples", "ten"}, "--samples must be an integer"},
        BadFlags{{"--data", SelectionJson(), "--output", "OUT", "--llm-backend", "ollama"}, "--llm-backend ollama is not supported"},
        BadFlags{{"--data", SelectionJson(), "--output", "OUT", "--prompt-format", "xml"}, "--prompt-format must be plain or chat"},
        BadFlags{{"--data", SelectionJson(), "--output", "OUT", "--bogus"}, "unknown flag --bogus"},
        BadFlags{{"--data", SelectionJson(), "--output", "OUT", "--no-rag", "--use-reranker"}, "--use-reranker needs retrieval"},
        BadFlags{{"--data", "/nonexistent/x.json", "--output", "OUT"}, "cannot open dataset file /nonexistent/x.json"},
        BadFlags{{"--data", SelectionJson(), "--output", "/nonexistent-dir/o.json"}, "output directory /nonexistent-dir does not exist"}));

TEST(EvalJob, NoGeneratorRegisteredIsAClearError) {
  ScratchDir dir;
  std::ostringstream out, err;
  EXPECT_EQ(EvalMainWith({"--data", SelectionJson(), "--output", dir.File("o.json")}, EvalBackends{}, out, err), 1);
  EXPECT_THAT(err.str(), HasSubstr("no text generator registered"));
}

TEST(Rescore, ReparsesALabFileAndRecomputesTheSummary) {
  ScratchDir dir;
  const std::string src = ReferenceEval("20251127-0411_qwen3_hf_ft_v2_dev_norag_direct.json");
  std::ostringstream out, err;
  ASSERT_EQ(RescoreMainWith({src, "--output", dir.File("new.json")}, out, err), 0) << err.str();
  auto doc = nlohmann::json::parse(ReadFile(dir.File("new.json")));
  const auto& res = doc["results"];
  ASSERT_EQ(res.size(), 27u);
  // Result 0 loops "回答（1文字のみ）: b"; the lab's parser had stored "a".
  EXPECT_EQ(res[0]["predicted_answer"], "b");
  EXPECT_EQ(res[0]["previous_predicted_answer"], "a");
  int correct = 0, unknown = 0, changed = 0;
  for (const auto& r : res) {
    correct += r["predicted_answer"] == r["correct_answer"];
    unknown += r["predicted_answer"] == "unknown";
    changed += r.contains("previous_predicted_answer");
    EXPECT_EQ(r["is_correct"], r["predicted_answer"] == r["correct_answer"]);
  }
  EXPECT_EQ(doc["summary"]["correct_count"], correct);
  EXPECT_EQ(doc["summary"]["unknown_count"], unknown);
  EXPECT_EQ(doc["summary"]["total_count"], 27);
  EXPECT_EQ(doc["rescored"]["changed_answers"], changed);
  EXPECT_GT(changed, 0);
  EXPECT_THAT(out.str(), HasSubstr("accuracy 0.4444 -> "));
  // Refuses to overwrite, and reports a missing input by name.
  std::ostringstream out2, err2;
  EXPECT_EQ(RescoreMainWith({src, "--output", dir.File("new.json")}, out2, err2), 2);
  EXPECT_THAT(err2.str(), HasSubstr("--overwrite"));
  std::ostringstream out3, err3;
  EXPECT_EQ(RescoreMainWith({dir.File("none.json"), "--output", dir.File("n2.json")}, out3, err3), 2);
  EXPECT_THAT(err3.str(), HasSubstr(dir.File("none.json")));
}

TEST(Rescore, ReVotesEnsembleMembers) {
  nlohmann::json doc = {{"results", {{{"correct_answer", "c"}, {"predicted_answer", "a"}, {"response", "a"},
                                      {"responses", {"a", "Answer: c", "回答：c"}}}}}};
  EXPECT_EQ(RescoreDocument(&doc, "mem"), 1);
  EXPECT_EQ(doc["results"][0]["predicted_answer"], "c");
  EXPECT_EQ(doc["summary"]["correct_count"], 1);
}

}  // namespace
}  // namespace ritsu::eval
