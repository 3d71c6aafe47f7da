// Dataset loading/validation, the seeded split, prompts and the fine-tuning JSONL builder,
// and the `data` command.
#include <set>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/eval/answer_parser.h"
#include "engine/eval/dataset.h"
#include "engine/eval/ft_builder.h"
#include "engine/eval/prompts.h"
#include "engine/eval/tests/test_util.h"

namespace ritsu::eval {
namespace {

using ::testing::HasSubstr;
using testing_util::ReadFile;
using testing_util::ScratchDir;
using testing_util::SelectionJson;

const char* kOneSample = R"({"ファイル名": "借地借家法_問題1", "コンテキスト": "## 借地借家法\n### 第3条\n借地権の存続期間は、三十年とする。",
  "指示": "x", "問題文": "借地権の存続期間は？", "選択肢": "a 十年\nb 二十年\nc 三十年\nd 五十年", "output": "c", "references": []})";

TEST(Dataset, LoadsTheShippedSelection) {
  auto s = LoadDataset(SelectionJson());
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ(s->size(), 140u);
  // Reference counts computed independently from the file with Python's json + Counter.
  auto labels = LabelDistribution(*s);
  EXPECT_EQ(labels["a"], 23);
  EXPECT_EQ(labels["b"], 37);
  EXPECT_EQ(labels["c"], 48);
  EXPECT_EQ(labels["d"], 32);
  auto laws = LawDistribution(*s);
  EXPECT_EQ(laws["金商法"], 80);
  EXPECT_EQ(laws["薬機法"], 39);
  EXPECT_EQ(laws["借地借家法"], 21);
  const Sample& first = (*s)[0];
  EXPECT_EQ(first.answer, 'c');
  ASSERT_EQ(first.choices.size(), 4u);
  EXPECT_EQ(first.choices[2].text, "第5条第1項の届出書に類する書類であって、英語で記載されているもの");
  EXPECT_THAT(first.context, HasSubstr("### 第5条"));
}

TEST(Dataset, LoadsTheRandomizedVariants) {
  // 560 = 140 questions x 4 answer orders.
  for (const char* name : {"selection_randomized.json", "selection_with_reference_randomized.json"}) {
    auto s = LoadDataset(std::string(RITSU_DATA_ROOT) + "/data/lawqa_jp/" + name);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    EXPECT_EQ(s->size(), 560u) << name;
  }
}

TEST(Dataset, AcceptsAListAndFullWidthLetters) {
  std::string text = std::string("[") + kOneSample + "]";
  auto s = ParseDataset(text, "list.json");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ((*s)[0].answer, 'c');
  std::string fw = R"([{"問題文": "q", "選択肢": "ａ 一\nｂ 二\nｃ 三\nｄ 四", "output": "Ｂ"}])";
  auto t = ParseDataset(fw, "fw.json");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ((*t)[0].answer, 'b');
  EXPECT_EQ((*t)[0].choices[3].text, "四");
}

struct BadCase {
  const char* text;
  const char* expected_message;
};

class DatasetRejects : public ::testing::TestWithParam<BadCase> {};

TEST_P(DatasetRejects, WithAMessageNamingSampleAndField) {
  auto s = ParseDataset(GetParam().text, "bad.json");
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(), HasSubstr(GetParam().expected_message));
  EXPECT_THAT(s.status().message(), HasSubstr("bad.json"));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, DatasetRejects,
    ::testing::Values(
        BadCase{R"({"samples": [{"問題文": "q", "選択肢": "a x\nb y\nc z\nd w", "output": "a"},
                                 {"問題文": "q", "選択肢": "a x\nb y\nc z", "output": "a"}]})",
                "sample 1: field 選択肢: 3 choices, need exactly four"},
        BadCase{R"([{"問題文": "q", "選択肢": "a x\nb y\nc z\nd w"}])", "sample 0: field output: missing"},
        BadCase{R"([{"問題文": "q", "選択肢": "a x\nb y\nc z\nd w", "output": "e"}])", "sample 0: field output: answer must be one of a, b, c, d"},
        BadCase{R"([{"選択肢": "a x\nb y\nc z\nd w", "output": "a"}])", "sample 0: field 問題文: missing"},
        BadCase{R"([{"問題文": 3, "選択肢": "a x\nb y\nc z\nd w", "output": "a"}])", "field 問題文: must be a string"},
        BadCase{R"([{"問題文": "q", "選択肢": "a x\nb y\nb z\nd w", "output": "a"}])", "choice 3 is labelled b, expected c"},
        BadCase{R"([{"問題文": "q", "選択肢": "x\ny\nz\nw", "output": "a"}])", "does not start with a choice letter"},
        BadCase{R"({"items": []})", "must have a \"samples\" list"},
        BadCase{R"("text")", "expected a list of samples"},
        BadCase{R"([1, 2])", "sample 0: must be an object"},
        BadCase{R"({"samples": [ )", "not valid JSON"}));

TEST(Split, SplitMix64MatchesThePublishedSequence) {
  // First outputs of the reference splitmix64.c for seed 1234567 (the test vector used by
  // several PRNG libraries).
  uint64_t state = 1234567;
  const uint64_t expected[] = {6457827717110365317ULL, 3203168211198807973ULL, 9817491932198370423ULL,
                               4593380528125082431ULL, 16408922859458223821ULL};
  for (uint64_t e : expected) EXPECT_EQ(SplitMix64Next(&state), e);
}

TEST(Split, DeterministicDisjointAndComplete) {
  auto s = LoadDataset(SelectionJson());
  ASSERT_TRUE(s.ok());
  auto a = SplitDataset(*s, 100, 40, 20251128);
  auto b = SplitDataset(*s, 100, 40, 20251128);
  auto c = SplitDataset(*s, 100, 40, 7);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  ASSERT_EQ(a->train.size(), 100u);
  ASSERT_EQ(a->test.size(), 40u);
  std::set<int> seen;
  std::vector<int> order_a, order_b, order_c;
  for (const auto& x : a->train) { seen.insert(x.index); order_a.push_back(x.index); }
  for (const auto& x : a->test) { seen.insert(x.index); order_a.push_back(x.index); }
  for (const auto& x : b->train) order_b.push_back(x.index);
  for (const auto& x : b->test) order_b.push_back(x.index);
  for (const auto& x : c->train) order_c.push_back(x.index);
  for (const auto& x : c->test) order_c.push_back(x.index);
  EXPECT_EQ(seen.size(), 140u);  // disjoint and covering
  EXPECT_EQ(order_a, order_b);
  EXPECT_NE(order_a, order_c);
  // The distributions of the two halves add up to the whole.
  auto lt = LabelDistribution(a->train), le = LabelDistribution(a->test), all = LabelDistribution(*s);
  for (const char* l : {"a", "b", "c", "d"}) EXPECT_EQ(lt[l] + le[l], all[l]) << l;
  auto wt = LawDistribution(a->train), we = LawDistribution(a->test), wall = LawDistribution(*s);
  for (const auto& [law, n] : wall) EXPECT_EQ(wt[law] + we[law], n) << law;
}

TEST(Split, PermutationIsUniformEnoughOnSmallN) {
  // Each of the 6 orders of 3 items should appear ~1/6 of the time over 6000 seeds; the bound
  // (+-25% of 1000) is > 7 standard deviations (sd ~ 29), so it only fails on a real bias.
  std::map<std::vector<int>, int> counts;
  for (uint64_t seed = 0; seed < 6000; ++seed) ++counts[SeededPermutation(3, seed)];
  ASSERT_EQ(counts.size(), 6u);
  for (const auto& [perm, n] : counts) EXPECT_NEAR(n, 1000, 250);
}

TEST(Split, RejectsSizesLargerThanTheData) {
  auto s = LoadDataset(SelectionJson());
  ASSERT_TRUE(s.ok());
  auto r = SplitDataset(*s, 120, 40, 1);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("exceeds the 140 samples"));
}

TEST(Prompts, DirectPromptHasTheLabsBlocks) {
  auto s = ParseDataset(std::string("[") + kOneSample + "]", "x");
  ASSERT_TRUE(s.ok());
  PromptOptions o;
  std::string with = BuildPrompt((*s)[0], "[1] 借地借家法 第3条\n借地権の存続期間は、三十年とする。", o);
  EXPECT_THAT(with, HasSubstr("【例】"));
  EXPECT_THAT(with, HasSubstr("【法令条文】\n[1] 借地借家法 第3条"));
  EXPECT_THAT(with, HasSubstr("【質問】\n借地権の存続期間は？"));
  EXPECT_THAT(with, HasSubstr("【選択肢】\na 十年\nb 二十年"));
  EXPECT_THAT(with, HasSubstr("- 回答は a, b, c, d のいずれか1文字のみ。"));
  EXPECT_TRUE(with.size() > 20 && with.substr(with.size() - std::string("回答（1文字のみ）: ").size()) == "回答（1文字のみ）: ");
  o.few_shot = false;
  std::string bare = BuildPrompt((*s)[0], "", o);
  EXPECT_THAT(bare, ::testing::Not(HasSubstr("【例】")));
  EXPECT_THAT(bare, ::testing::Not(HasSubstr("【法令条文】")));
  o.mode = PromptMode::kCotDetailed;
  std::string cot = BuildPrompt((*s)[0], "", o);
  EXPECT_THAT(cot, HasSubstr("2. 各選択肢を条文に照らして妥当性を判定する"));
  EXPECT_THAT(cot, HasSubstr("Answer: "));
  o.mode = PromptMode::kCotCompact;
  EXPECT_THAT(BuildPrompt((*s)[0], "", o), HasSubstr("Reasoning: （根拠）"));
}

TEST(Prompts, TheOneShotExampleIsNotADatasetQuestion) {
  auto s = LoadDataset(SelectionJson());
  ASSERT_TRUE(s.ok());
  PromptOptions o;
  Sample probe;
  probe.question = "PROBE";
  probe.choices_text = "PROBE";
  std::string p = BuildPrompt(probe, "", o);
  for (const auto& x : *s) EXPECT_THAT(p, ::testing::Not(HasSubstr(x.question))) << x.index;
}

TEST(FtBuilder, DirectAndCotRecords) {
  auto s = LoadDataset(SelectionJson());
  ASSERT_TRUE(s.ok());
  const Sample& x = (*s)[0];
  auto direct = BuildFtRecord(x, FtMode::kDirect, false);
  EXPECT_EQ(direct["output"], "c");
  EXPECT_EQ(direct["meta"]["mode"], "direct");
  EXPECT_EQ(direct["meta"]["with_context"], false);
  EXPECT_THAT(direct["input"].get<std::string>(), HasSubstr(x.question));
  EXPECT_THAT(direct["input"].get<std::string>(), ::testing::Not(HasSubstr("【法令条文】")));
  EXPECT_THAT(direct["input"].get<std::string>(), ::testing::Not(HasSubstr("【例】")));
  auto ctx = BuildFtRecord(x, FtMode::kDirect, true);
  EXPECT_THAT(ctx["input"].get<std::string>(), HasSubstr("【法令条文】\n## 金融商品取引法"));
  for (const auto& sample : *s) {
    auto cot = BuildFtRecord(sample, FtMode::kCot, false);
    const std::string out = cot["output"].get<std::string>();
    EXPECT_EQ(cot["meta"]["mode"], "cot");
    // The target teaches the format the parser reads: it must parse back to the answer.
    EXPECT_EQ(ParseAnswer(out).Letter(), std::string(1, sample.answer)) << sample.index << "\n" << out;
    EXPECT_THAT(out, HasSubstr("Answer: " + std::string(1, sample.answer)));
  }
}

TEST(DataTool, SplitBuildFtStatsAndRefusals) {
  ScratchDir dir;
  std::ostringstream out, err;
  const std::string train = dir.File("train.json"), test = dir.File("test.json"), ft = dir.File("ft.jsonl");
  ASSERT_EQ(DataToolMainWith({"split", "--data", SelectionJson(), "--train-out", train, "--test-out", test}, out, err), 0) << err.str();
  EXPECT_THAT(out.str(), HasSubstr("train " + train + ": 100 samples"));
  EXPECT_THAT(out.str(), HasSubstr("labels: a="));
  EXPECT_THAT(out.str(), HasSubstr("laws:"));
  auto tr = LoadDataset(train);
  auto te = LoadDataset(test);
  ASSERT_TRUE(tr.ok() && te.ok());
  EXPECT_EQ(tr->size(), 100u);
  EXPECT_EQ(te->size(), 40u);
  // Same command again: refused without --overwrite, the files untouched.
  const std::string before = ReadFile(train);
  std::ostringstream out2, err2;
  EXPECT_EQ(DataToolMainWith({"split", "--data", SelectionJson(), "--train-out", train, "--test-out", test, "--seed", "1"}, out2, err2), 2);
  EXPECT_THAT(err2.str(), HasSubstr("pass --overwrite"));
  EXPECT_EQ(ReadFile(train), before);

  std::ostringstream out3, err3;
  ASSERT_EQ(DataToolMainWith({"build-ft", "--data", train, "--output", ft, "--mode", "cot", "--with-context"}, out3, err3), 0) << err3.str();
  std::istringstream lines(ReadFile(ft));
  int n = 0;
  for (std::string line; std::getline(lines, line); ++n) {
    auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["meta"]["mode"], "cot");
    EXPECT_EQ(j["meta"]["with_context"], true);
  }
  EXPECT_EQ(n, 100);

  std::ostringstream out4, err4;
  EXPECT_EQ(DataToolMainWith({"build-ft", "--data", train, "--output", dir.File("x.jsonl"), "--mode", "fancy"}, out4, err4), 2);
  EXPECT_THAT(err4.str(), HasSubstr("--mode must be direct or cot"));
  std::ostringstream out5, err5;
  EXPECT_EQ(DataToolMainWith({"stats", "--data", SelectionJson()}, out5, err5), 0);
  EXPECT_THAT(out5.str(), HasSubstr("140 samples"));
  std::ostringstream out6, err6;
  EXPECT_EQ(DataToolMainWith({"frobnicate"}, out6, err6), 2);
  EXPECT_THAT(err6.str(), HasSubstr("unknown command frobnicate"));
}

}  // namespace
}  // namespace ritsu::eval
