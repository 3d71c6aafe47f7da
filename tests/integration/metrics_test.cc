// The metric series end to end: a task appends JSON records to $RITSU_METRICS_SERIES, the worker
// streams them through its spool, ritsud stores them per attempt (durably: a kill -9 in the
// middle loses nothing) apart from the log, and `ritsu metrics` serves them in order.
#include <csignal>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/integration/harness.h"

namespace ritsu::itest {
namespace {

using namespace std::chrono_literals;

TEST(Metrics, SeriesSurvivesASchedulerKillAndIsServedInOrder) {
  Cluster c;
  c.heartbeat_timeout = "5s";  // the restart below takes well under this: no requeue
  c.StartScheduler();
  c.StartWorker("w", "cpu0");
  constexpr int kSteps = 40;
  // One record per step, plus one line that is not JSON (dropped by the worker, with a note).
  std::string script = fmt::format(
      "i=1; while [ $i -le {} ]; do "
      "echo \"{{\\\"kind\\\":\\\"train\\\",\\\"step\\\":$i,\\\"loss\\\":$((100-i)).5}}\" >> \"$RITSU_METRICS_SERIES\"; "
      "[ $i -eq 3 ] && echo 'not json' >> \"$RITSU_METRICS_SERIES\"; "
      "echo step $i; sleep 0.05; i=$((i+1)); done; "
      "echo '{{\"kind\":\"eval\",\"step\":40,\"eval_accuracy\":0.75}}' >> \"$RITSU_METRICS_SERIES\"",
      kSteps);
  uint64_t id = c.SubmitExec({}, {"/bin/sh", "-c", script});
  ASSERT_TRUE(WaitFor([&] { return c.Ritsu({"logs", std::to_string(id), "--stdout-only"}).out.find("step 10\n") != std::string::npos; }, 20s))
      << c.Logs();
  c.KillScheduler(SIGKILL);
  std::this_thread::sleep_for(500ms);
  c.StartScheduler();
  CmdResult w = c.Ritsu({"wait", std::to_string(id), "--timeout", "60s"}, 90s);
  ASSERT_EQ(w.code, 0) << w.out << w.err << c.Logs();

  CmdResult m = c.Ritsu({"metrics", std::to_string(id), "--json"});
  ASSERT_EQ(m.code, 0) << m.err;
  auto j = m.Json();
  ASSERT_TRUE(j["records"].is_array()) << m.out;
  ASSERT_EQ(j["records"].size(), size_t(kSteps + 1)) << m.out;
  for (int i = 1; i <= kSteps; ++i) {
    const auto& r = j["records"][i - 1];
    EXPECT_EQ(r["kind"], "train");
    EXPECT_EQ(r["step"], i);
    EXPECT_DOUBLE_EQ(r["loss"].get<double>(), 100 - i + 0.5);
  }
  EXPECT_EQ(j["records"][kSteps]["kind"], "eval");
  EXPECT_DOUBLE_EQ(j["records"][kSteps]["eval_accuracy"].get<double>(), 0.75);
  EXPECT_EQ(j["dropped_bytes"], 0);
  EXPECT_EQ(j["attempt"], 1);

  // The log holds only the task's own output; the bad line is noted on its stderr.
  std::string expected;
  for (int i = 1; i <= kSteps; ++i) expected += fmt::format("step {}\n", i);
  EXPECT_EQ(c.Ritsu({"logs", std::to_string(id), "--stdout-only"}).out, expected);
  CmdResult all = c.Ritsu({"logs", std::to_string(id), "--merged"});
  EXPECT_NE(all.out.find("not one JSON object was dropped: not json"), std::string::npos) << all.out;

  CmdResult csv = c.Ritsu({"metrics", std::to_string(id), "--csv"});
  ASSERT_EQ(csv.code, 0) << csv.err;
  EXPECT_EQ(csv.out.substr(0, csv.out.find('\n')), "step,kind,loss,eval_accuracy");
  EXPECT_NE(csv.out.find("\n1,train,99.5,\n"), std::string::npos) << csv.out;
  EXPECT_NE(csv.out.find("\n40,eval,,0.75\n"), std::string::npos) << csv.out;
  CmdResult table = c.Ritsu({"metrics", std::to_string(id)});
  ASSERT_EQ(table.code, 0);
  EXPECT_NE(table.out.find("EVAL_ACCURACY"), std::string::npos) << table.out;
  // show summarises the series: the latest training record and the best evaluation.
  CmdResult show = c.Ritsu({"show", std::to_string(id)});
  EXPECT_NE(show.out.find("latest      step 40  loss 60.5\n"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("best eval   step 40  eval_accuracy 0.75\n"), std::string::npos) << show.out;
  EXPECT_DOUBLE_EQ(c.Show(id)["series"]["best_eval"]["eval_accuracy"].get<double>(), 0.75);
  // Unknown attempt: a clear error, non-zero exit.
  CmdResult bad = c.Ritsu({"metrics", std::to_string(id), "--attempt", "9"});
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.err.find("has no attempt 9"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace ritsu::itest
