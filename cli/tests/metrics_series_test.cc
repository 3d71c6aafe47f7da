#include "cli/metrics_series.h"

#include <gtest/gtest.h>

namespace ritsu::cli {
namespace {

TEST(MetricsSeries, SummaryIsTheLatestTrainingRecordAndTheBestEvaluation) {
  std::vector<nlohmann::json> recs = {
      nlohmann::json::parse(R"({"kind":"train","step":1,"loss":2.5})"),
      nlohmann::json::parse(R"({"kind":"eval","step":1,"eval_accuracy":0.5})"),
      nlohmann::json::parse(R"({"kind":"train","step":2,"loss":1.25,"learning_rate":0.0002})"),
      nlohmann::json::parse(R"({"kind":"eval","step":2,"eval_accuracy":0.75})"),
      nlohmann::json::parse(R"({"kind":"eval","step":3,"eval_accuracy":0.6})"),
      nlohmann::json::parse(R"({"kind":"eval","step":4,"eval_loss":1.0})"),
  };
  SeriesSummary s = Summarize(recs);
  EXPECT_EQ(s.latest["step"], 2);
  EXPECT_EQ(s.best_eval["step"], 2);
  EXPECT_EQ(FormatRecord(s.latest), "step 2  learning_rate 0.0002  loss 1.25");
  EXPECT_EQ(FormatRecord(s.best_eval), "step 2  eval_accuracy 0.75");
  SeriesSummary none = Summarize({});
  EXPECT_TRUE(none.latest.is_null());
  EXPECT_TRUE(none.best_eval.is_null());
}

}  // namespace
}  // namespace ritsu::cli
