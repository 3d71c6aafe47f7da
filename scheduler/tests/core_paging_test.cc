// List replies stay under the frame limit however big the rows are: they page, and following
// the cursor returns every row exactly once.
#include <set>

#include <gtest/gtest.h>

#include "scheduler/tests/core_fixture.h"

namespace ritsu::sched::testing {
namespace {

TEST_F(CoreFixture, StatusOfManyHugeRowsPagesUnderTheFrameLimit) {
  // The reported case was 180 tasks named 100 KB each (18 MB of names in one reply). Names are
  // bounded at submit now (256 bytes), so the same shape at a smaller page size: 180 rows with
  // the longest names allowed, over a page of 16 KiB.
  CoreOptions o;
  o.max_reply_bytes = 16u << 10;
  core_ = std::make_unique<Core>(store_.get(), &clock_, o);
  ASSERT_TRUE(core_->Load().ok());
  std::vector<TaskSpec> specs;
  for (int i = 0; i < 180; ++i) specs.push_back(Exec(std::string(256, static_cast<char>('a' + i % 26))));
  auto ids = SubmitOk(specs);
  ASSERT_EQ(ids.size(), 180u);
  std::vector<TaskId> seen;
  StatusRequest req;
  int pages = 0;
  for (;;) {
    ASSERT_LT(++pages, 50) << "the cursor does not advance";
    auto r = core_->OnStatus(req);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    std::string frame = Encode(1, *r);
    ASSERT_LE(frame.size(), o.max_reply_bytes + 1024);
    ASSERT_TRUE(Decode(frame).ok());
    for (const auto& row : r->tasks) {
      EXPECT_EQ(row.name.size(), 256u);  // rows are whole, not clipped
      seen.push_back(row.id);
    }
    if (r->next_cursor.empty()) {
      EXPECT_FALSE(r->truncated);
      break;
    }
    req.cursor = r->next_cursor;
    req.limit = static_cast<uint32_t>(1000 - seen.size());
  }
  EXPECT_GE(pages, 2);
  ASSERT_EQ(seen.size(), 180u);
  std::vector<TaskId> want(ids.rbegin(), ids.rend());  // newest first
  EXPECT_EQ(seen, want);
}

// wait answers every task in one reply: 20 tasks that each wrote 900 kB of final metrics made
// an 18 MB reply that the client could not take ("closed the connection"). Rows share the
// budget: over its share a row loses its metrics (show has them).
TEST_F(CoreFixture, WaitOfTasksWithHugeMetricsFitsOneFrame) {
  std::vector<TaskSpec> specs;
  for (int i = 0; i < 20; ++i) specs.push_back(Exec("big-" + std::to_string(i)));
  auto ids = SubmitOk(specs);
  std::vector<Slot> slots;
  for (int i = 0; i < 20; ++i) slots.push_back(CpuSlot("c" + std::to_string(i)));
  Peer w = RegisterWorker("w1", slots);
  ASSERT_EQ(Schedule().size(), 20u);
  const std::string metrics = R"({"blob":")" + std::string(900'000, 'a') + R"("})";
  for (TaskId id : ids) {
    Start(w, id, 1);
    Finish(w, id, 1, 0, metrics);
  }
  Wait req;
  req.task_ids = ids;
  auto r = core_->OnWait(req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->all_final);
  ASSERT_EQ(r->tasks.size(), 20u);
  for (const auto& row : r->tasks) EXPECT_EQ(row.state, TaskState::kSucceeded);
  std::string frame = Encode(1, *r);
  EXPECT_LE(frame.size(), kMaxFrameBytes);
  EXPECT_TRUE(Decode(frame).ok());
  EXPECT_EQ(Rec(ids[0]).metrics_json, metrics);  // stored whole; only the reply is trimmed
  req.task_ids.assign(kMaxWaitTasks + 1, ids[0]);
  auto too_many = core_->OnWait(req);
  ASSERT_FALSE(too_many.ok());
  EXPECT_NE(too_many.status().message().find("at most 50000"), std::string::npos) << too_many.status().message();
}

TEST_F(CoreFixture, EveryListPagesWithTheSameCursorRules) {
  CoreOptions o;
  o.max_reply_bytes = 600;  // a few rows per page
  core_ = std::make_unique<Core>(store_.get(), &clock_, o);
  ASSERT_TRUE(core_->Load().ok());
  std::vector<TaskSpec> specs;
  for (int i = 0; i < 25; ++i) specs.push_back(Exec("t" + std::to_string(i)));
  auto ids = SubmitOk(specs);
  // status filtered by state, page by page
  std::set<TaskId> seen;
  StatusRequest req;
  req.states = {TaskState::kQueued};
  for (int page = 0;; ++page) {
    ASSERT_LT(page, 30);
    auto r = core_->OnStatus(req);
    ASSERT_TRUE(r.ok());
    for (const auto& row : r->tasks) EXPECT_TRUE(seen.insert(row.id).second) << "row " << row.id << " twice";
    if (r->next_cursor.empty()) break;
    req.cursor = r->next_cursor;
  }
  EXPECT_EQ(seen.size(), 25u);
  // workers
  for (int i = 0; i < 12; ++i) RegisterWorker("w" + std::to_string(100 + i), {CpuSlot("c0"), CpuSlot("c1")});
  std::set<std::string> names;
  Workers wreq;
  for (int page = 0;; ++page) {
    ASSERT_LT(page, 30);
    auto r = core_->OnWorkers(wreq);
    ASSERT_TRUE(r.ok());
    for (const auto& w : r->workers) EXPECT_TRUE(names.insert(w.name).second);
    if (r->next_cursor.empty()) break;
    ASSERT_GE(r->workers.size(), 1u);
    wreq.cursor = r->next_cursor;
  }
  EXPECT_EQ(names.size(), 12u);
  // A cursor that is not one: a clear error naming the field.
  StatusRequest bad;
  bad.cursor = "next please";
  auto e = core_->OnStatus(bad);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("status.cursor"), std::string::npos);
}

TEST_F(CoreFixture, SweepStatusPagesItsTrials) {
  CoreOptions o;
  o.max_reply_bytes = 400;
  core_ = std::make_unique<Core>(store_.get(), &clock_, o);
  ASSERT_TRUE(core_->Load().ok());
  auto r = core_->OnSweepSubmit(SweepSubmit{"s.toml", R"(
[sweep]
name = "grid"
[grid]
lr = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"]
[[step]]
name = "main"
argv = ["echo", "{lr}"]
)", ""});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  Commit();
  SweepStatus q{r->sweep_id, {}};
  std::vector<uint32_t> trials;
  for (int page = 0;; ++page) {
    ASSERT_LT(page, 30);
    auto st = core_->OnSweepStatus(q);
    ASSERT_TRUE(st.ok()) << st.status().ToString();
    EXPECT_EQ(st->counts.at("QUEUED"), 10u);  // the counts always cover the whole sweep
    for (const auto& t : st->trials) trials.push_back(t.trial);
    if (st->next_cursor.empty()) break;
    q.cursor = st->next_cursor;
  }
  ASSERT_EQ(trials.size(), 10u);
  for (uint32_t i = 0; i < 10; ++i) EXPECT_EQ(trials[i], trials[0] + i);
}

}  // namespace
}  // namespace ritsu::sched::testing
