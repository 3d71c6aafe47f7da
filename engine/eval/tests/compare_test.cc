// `ritsu compare`: questions matched by id, the per-file Wilson intervals, the paired counts,
// McNemar and Holm figures against the baseline, refusal of different question sets, the
// text and --json outputs. The figures are checked against independently computed values
// (see paired_stats_test.cc for how they were obtained).
#include <algorithm>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/eval/rescore_compare.h"
#include "engine/eval/tests/test_util.h"

namespace ritsu::eval {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing_util::ReferenceEval;
using testing_util::ScratchDir;
using testing_util::WriteFile;

// 20 questions q0..q19, truth cycling a b c d; `right[i]` says whether the file answered qi
// correctly (a wrong answer is the next letter).
nlohmann::json Doc(const std::vector<bool>& right) {
  nlohmann::json results = nlohmann::json::array();
  for (size_t i = 0; i < right.size(); ++i) {
    const std::string truth(1, static_cast<char>('a' + i % 4));
    const std::string pred = right[i] ? truth : std::string(1, static_cast<char>('a' + (i + 1) % 4));
    results.push_back({{"file_name", "q" + std::to_string(i)}, {"question", "?"}, {"correct_answer", truth},
                       {"predicted_answer", pred}, {"response", pred}});
  }
  return {{"results", results}};
}

std::vector<bool> RightOn(int n, std::initializer_list<std::pair<int, int>> ranges) {
  std::vector<bool> v(n, false);
  for (auto [from, to] : ranges)
    for (int i = from; i <= to; ++i) v[i] = true;
  return v;
}

// A: right on q0..q9 (10/20). B: also q10..q15 (6 improved, 0 regressed; 16/20).
// C: q4..q10 (1 improved, 4 regressed; 7/20).
nlohmann::json A() { return Doc(RightOn(20, {{0, 9}})); }
nlohmann::json B() { return Doc(RightOn(20, {{0, 15}})); }
nlohmann::json C() { return Doc(RightOn(20, {{4, 10}})); }

nlohmann::json Compare(const std::vector<NamedEvaluation>& files) {
  auto cmp = CompareEvaluations(files);
  EXPECT_TRUE(cmp.ok()) << cmp.status().message();
  return cmp.ok() ? *cmp : nlohmann::json();
}

TEST(Compare, ThreeFilesWilsonMcNemarHolm) {
  const auto cmp = Compare({{"A.json", A()}, {"B.json", B()}, {"C.json", C()}});
  ASSERT_EQ(cmp["files"].size(), 3u);
  EXPECT_EQ(cmp["questions"], 20);
  EXPECT_EQ(cmp["baseline"], "A.json");
  // Wilson 95 %: statsmodels proportion_confint(k, 20, method="wilson").
  const double want[3][2] = {{0.2992980081982123, 0.7007019918017877},
                             {0.5839825677481064, 0.919342337420202},
                             {0.18119182410108203, 0.5671457233147638}};
  const int correct[3] = {10, 16, 7};
  for (int i = 0; i < 3; ++i) {
    const auto& f = cmp["files"][i];
    EXPECT_EQ(f["correct_count"], correct[i]);
    EXPECT_EQ(f["total_count"], 20);
    EXPECT_NEAR(f["wilson95"]["lo"].get<double>(), want[i][0], 1e-12);
    EXPECT_NEAR(f["wilson95"]["hi"].get<double>(), want[i][1], 1e-12);
  }
  ASSERT_EQ(cmp["comparisons"].size(), 2u);
  const auto& b = cmp["comparisons"][0];
  EXPECT_EQ(b["file"], "B.json");
  EXPECT_EQ(b["improved"], 6);
  EXPECT_EQ(b["regressed"], 0);
  EXPECT_EQ(b["both_correct"], 10);
  EXPECT_EQ(b["both_wrong"], 4);
  EXPECT_DOUBLE_EQ(b["accuracy_delta"].get<double>(), 0.3);
  EXPECT_DOUBLE_EQ(b["mcnemar_p"].get<double>(), 2.0 / 64);  // 2 * C(6,0) / 2^6
  // Holm over 2: sorted 0.03125 * 2 = 0.0625, then max(0.0625, 0.375) for C. Significant
  // alone, not once the second comparison is paid for.
  EXPECT_DOUBLE_EQ(b["holm_p"].get<double>(), 0.0625);
  EXPECT_EQ(b["significant"], false);
  EXPECT_EQ(b["verdict"], "not significant at 0.05");
  const auto& c = cmp["comparisons"][1];
  EXPECT_EQ(c["improved"], 1);
  EXPECT_EQ(c["regressed"], 4);
  EXPECT_EQ(c["both_correct"], 6);
  EXPECT_EQ(c["both_wrong"], 9);
  EXPECT_DOUBLE_EQ(c["mcnemar_p"].get<double>(), 12.0 / 32);  // 2 * (C(5,0) + C(5,1)) / 2^5
  EXPECT_DOUBLE_EQ(c["holm_p"].get<double>(), 0.375);
  EXPECT_EQ(c["improved_questions"][0]["id"], "q10");
  EXPECT_EQ(c["regressed_questions"].size(), 4u);
  EXPECT_EQ(c["regressed_questions"][0]["id"], "q0");
  EXPECT_EQ(c["regressed_questions"][0]["baseline"], "a");
  EXPECT_EQ(c["regressed_questions"][0]["other"], "b");

  const std::string text = FormatComparison(cmp);
  EXPECT_THAT(text, HasSubstr("3 evaluations of the same 20 questions"));
  EXPECT_THAT(text, HasSubstr("[0] A.json  0.5000 (10/20)    [0.2993, 0.7007]    0\n"));
  EXPECT_THAT(text, HasSubstr("[1] B.json  0.8000 (16/20)    [0.5840, 0.9193]    0\n"));
  EXPECT_THAT(text, HasSubstr("Holm-adjusted over 2 comparisons"));
  EXPECT_THAT(text, HasSubstr("[1] B.json  +0.3000   +6        -0         10          4           0.0312   0.0625   not significant at 0.05\n"));
  EXPECT_THAT(text, HasSubstr("[2] C.json  -0.1500   +1        -4         6           9           0.3750   0.3750   not significant at 0.05\n"));
  EXPECT_THAT(text, HasSubstr("[2] C.json: regressed (right in the baseline, wrong here)\n  q0 (truth a): a -> b\n"));
}

TEST(Compare, OneComparisonIsNotAdjustedAndSaysSignificant) {
  const auto cmp = Compare({{"A.json", A()}, {"B.json", B()}});
  const auto& b = cmp["comparisons"][0];
  EXPECT_DOUBLE_EQ(b["holm_p"].get<double>(), 2.0 / 64);
  EXPECT_EQ(b["verdict"], "significant at 0.05: better");
  EXPECT_THAT(FormatComparison(cmp), HasSubstr("Holm-adjusted over 1 comparison\n"));
  // The other way round it is a significant regression.
  const auto rev = Compare({{"B.json", B()}, {"A.json", A()}});
  EXPECT_EQ(rev["comparisons"][0]["regressed"], 6);
  EXPECT_EQ(rev["comparisons"][0]["verdict"], "significant at 0.05: worse");
}

TEST(Compare, MatchesQuestionsByIdNotPosition) {
  nlohmann::json b = B();
  auto& r = b["results"];
  std::reverse(r.begin(), r.end());
  const auto cmp = Compare({{"A.json", A()}, {"B.json", b}});
  EXPECT_EQ(cmp["comparisons"][0]["improved"], 6);
  EXPECT_EQ(cmp["comparisons"][0]["regressed"], 0);
  EXPECT_EQ(cmp["comparisons"][0]["both_correct"], 10);
}

TEST(Compare, WithoutFileNameTheKeyIsQuestionAndChoices) {
  // Same question text, different choices: two questions, not one asked twice.
  auto doc = [](const std::string& p0, const std::string& p1, bool swap) {
    nlohmann::json q0{{"question", "同じ問題"}, {"choices", "a x\nb y"}, {"correct_answer", "a"}, {"predicted_answer", p0}, {"response", p0}};
    nlohmann::json q1{{"question", "同じ問題"}, {"choices", "a z\nb w"}, {"correct_answer", "b"}, {"predicted_answer", p1}, {"response", p1}};
    return nlohmann::json{{"results", swap ? nlohmann::json{q1, q0} : nlohmann::json{q0, q1}}};
  };
  const auto cmp = Compare({{"A.json", doc("a", "a", false)}, {"B.json", doc("b", "b", true)}});
  EXPECT_EQ(cmp["comparisons"][0]["improved"], 1);
  EXPECT_EQ(cmp["comparisons"][0]["regressed"], 1);
}

TEST(Compare, RefusesDifferentQuestionSets) {
  nlohmann::json fewer = B();
  fewer["results"].erase(fewer["results"].begin() + 3);  // drops q3
  auto missing = CompareEvaluations({{"A.json", A()}, {"B.json", fewer}});
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(),
              HasSubstr("A.json (20 questions) and B.json (19 questions) are evaluations of different question sets: "
                        "\"q3\" is in A.json but not in B.json"));
  // An extra question in the other file, same count: named the other way round.
  nlohmann::json other = B();
  other["results"][5]["file_name"] = "q99";
  auto extra = CompareEvaluations({{"A.json", A()}, {"B.json", B()}, {"C.json", other}});
  ASSERT_FALSE(extra.ok());
  EXPECT_THAT(extra.status().message(), HasSubstr("\"q5\" is in A.json but not in C.json"));
  auto extra2 = CompareEvaluations({{"C.json", other}, {"A.json", A()}});
  ASSERT_FALSE(extra2.ok());
  EXPECT_THAT(extra2.status().message(), HasSubstr("\"q99\" is in C.json but not in A.json"));
  nlohmann::json more = A();
  more["results"].push_back(more["results"][0]);
  more["results"].back()["file_name"] = "q20";
  auto superset = CompareEvaluations({{"A.json", A()}, {"M.json", more}});
  ASSERT_FALSE(superset.ok());
  EXPECT_THAT(superset.status().message(), HasSubstr("(21 questions)"));
  EXPECT_THAT(superset.status().message(), HasSubstr("\"q20\" is in M.json but not in A.json"));
}

TEST(Compare, RefusesAQuestionIdTwiceInOneFile) {
  nlohmann::json dup = B();
  dup["results"][7]["file_name"] = "q2";
  auto cmp = CompareEvaluations({{"A.json", A()}, {"D.json", dup}});
  ASSERT_FALSE(cmp.ok());
  EXPECT_THAT(cmp.status().message(), HasSubstr("D.json: question \"q2\" appears twice (results[2] and results[7])"));
}

TEST(Compare, RefusesTheSameIdWithAnotherTruth) {
  nlohmann::json other = B();
  other["results"][6]["correct_answer"] = "a";  // q6's truth is c
  auto cmp = CompareEvaluations({{"A.json", A()}, {"B.json", other}});
  ASSERT_FALSE(cmp.ok());
  EXPECT_THAT(cmp.status().message(), HasSubstr("\"q6\" has correct_answer \"c\" in A.json but \"a\" in B.json"));
}

TEST(Compare, RefusesANonStringAnswerByFileAndField) {
  nlohmann::json bad = B();
  bad["results"][4]["predicted_answer"] = nullptr;
  auto cmp = CompareEvaluations({{"A.json", A()}, {"bad.json", bad}});
  ASSERT_FALSE(cmp.ok());
  EXPECT_THAT(cmp.status().message(), HasSubstr("bad.json: results[4]: field predicted_answer is not a string"));
}

TEST(Compare, LabelDistributionAndCollapseWarning) {
  // Truth a for q0 q4 q8 q12 q16 (25 %). A predicts a for q0 q4 q8 (right) and q11 q15 q19
  // (wrong: the letter after d) = 30 %. B answers a for q0..q15 and q19 = 85 %.
  nlohmann::json b = A();
  for (int i = 0; i < 16; ++i) b["results"][i]["predicted_answer"] = "a";
  const std::string text = FormatComparison(Compare({{"A.json", A()}, {"B.json", b}}));
  EXPECT_THAT(text, HasSubstr("WARNING: B.json answers \"a\" for 85% of questions (truth: 25%) - collapsed onto one letter"));
  EXPECT_THAT(text, Not(HasSubstr("WARNING: A.json")));
  // Bars are 20 characters for every question.
  EXPECT_THAT(text, HasSubstr("  label    truth     [0]" + std::string(26, ' ') + "[1]\n"));
  EXPECT_THAT(text, HasSubstr("  a          25%     30% ######                   85% #################\n"));
  EXPECT_THAT(text, HasSubstr("  b          25%     25% #####                     5% #\n"));
}

TEST(Compare, MainWritesTextAndJsonAndRefusesWithExitTwo) {
  ScratchDir dir;
  WriteFile(dir.File("a.json"), A().dump());
  WriteFile(dir.File("b.json"), B().dump());
  WriteFile(dir.File("c.json"), C().dump());
  std::ostringstream out, err;
  ASSERT_EQ(CompareMainWith({dir.File("a.json"), dir.File("b.json"), dir.File("c.json"), "--json"}, out, err), 0)
      << err.str();
  const auto cmp = nlohmann::json::parse(out.str());
  EXPECT_EQ(cmp["files"][2]["file"], dir.File("c.json"));
  EXPECT_DOUBLE_EQ(cmp["comparisons"][0]["holm_p"].get<double>(), 0.0625);
  EXPECT_DOUBLE_EQ(cmp["comparisons"][1]["mcnemar_p"].get<double>(), 0.375);

  std::ostringstream out2, err2;
  ASSERT_EQ(CompareMainWith({dir.File("a.json"), dir.File("b.json")}, out2, err2), 0) << err2.str();
  EXPECT_THAT(out2.str(), HasSubstr("significant at 0.05: better"));

  nlohmann::json fewer = B();
  fewer["results"].erase(fewer["results"].begin());
  WriteFile(dir.File("fewer.json"), fewer.dump());
  std::ostringstream out3, err3;
  EXPECT_EQ(CompareMainWith({dir.File("a.json"), dir.File("fewer.json")}, out3, err3), 2);
  EXPECT_THAT(err3.str(), HasSubstr("\"q0\" is in " + dir.File("a.json") + " but not in " + dir.File("fewer.json")));
  EXPECT_TRUE(out3.str().empty());

  std::ostringstream out4, err4;
  EXPECT_EQ(CompareMainWith({dir.File("a.json")}, out4, err4), 2);
  EXPECT_THAT(err4.str(), HasSubstr("usage: ritsu compare BASELINE.json OTHER.json [MORE.json ...]"));
  std::ostringstream out5, err5;
  EXPECT_EQ(CompareMainWith({dir.File("a.json"), dir.File("none.json")}, out5, err5), 2);
  EXPECT_THAT(err5.str(), HasSubstr(dir.File("none.json")));
}

TEST(Compare, LabFilesBaseVersusFineTuned) {
  std::ostringstream out, err;
  ASSERT_EQ(CompareMainWith({ReferenceEval("20251128-0804_qwen3_hf_norag_direct_dev.json"),
                             ReferenceEval("20251127-0411_qwen3_hf_ft_v2_dev_norag_direct.json"), "--json"},
                            out, err), 0) << err.str();
  auto cmp = nlohmann::json::parse(out.str());
  EXPECT_EQ(cmp["questions"], 27);
  const auto& c = cmp["comparisons"][0];
  EXPECT_EQ(c["improved"].get<int>() + c["regressed"].get<int>() + c["both_correct"].get<int>() +
                c["both_wrong"].get<int>(), 27);
  EXPECT_EQ(cmp["files"][0]["correct_count"].get<int>() - c["regressed"].get<int>() + c["improved"].get<int>(),
            cmp["files"][1]["correct_count"].get<int>());
  // The dev set (27) and the full set (140) are different question sets.
  std::ostringstream out2, err2;
  EXPECT_EQ(CompareMainWith({ReferenceEval("20251128-0804_qwen3_hf_norag_direct_dev.json"),
                             ReferenceEval("baseline_rag_qwen3_full.json")}, out2, err2), 2);
  EXPECT_THAT(err2.str(), HasSubstr("(27 questions) and "));
  EXPECT_THAT(err2.str(), HasSubstr("(140 questions) are evaluations of different question sets"));
}

}  // namespace
}  // namespace ritsu::eval
