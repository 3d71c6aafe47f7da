// Placement decisions of the pure matcher: fit rules, order, backfill and reservation.
#include "scheduler/matcher.h"

#include <gtest/gtest.h>

namespace ritsu::sched {
namespace {

Slot Gpu(std::string id, uint64_t gb) { return Slot{std::move(id), "gpu", gb << 30, "8.0", true}; }
Slot Cpu(std::string id) { return Slot{std::move(id), "cpu", 0, "", false}; }
MatchTask Task(TaskId id, uint32_t gpus, uint64_t gb = 0, uint32_t blocked = 0) {
  MatchTask t;
  t.id = id;
  t.resources.gpus = gpus;
  t.resources.gpu_mem_bytes = gb << 30;
  t.passes_blocked = blocked;
  return t;
}

std::vector<std::pair<TaskId, std::string>> Placed(const MatchResult& r) {
  std::vector<std::pair<TaskId, std::string>> out;
  for (const auto& p : r.placements) {
    std::string slots;
    for (const auto& s : p.slots) slots += (slots.empty() ? "" : ",") + s;
    out.emplace_back(p.task_id, p.worker + ":" + slots);
  }
  return out;
}

TEST(MatcherTest, FitsByCountMemoryTagsAndHost) {
  MatchWorker a{"a", {Gpu("0", 10), Gpu("1", 24)}, {}, {"3080"}, true};
  MatchWorker b{"b", {Gpu("0", 24), Gpu("1", 24)}, {}, {"a5000"}, true};
  MatchTask need20 = Task(1, 1, 20);
  MatchTask two = Task(2, 2, 20);
  MatchTask tagged = Task(3, 1);
  tagged.resources.tags = {"3080"};
  MatchTask pinned = Task(4, 1);
  pinned.resources.host = "b";
  MatchWorker c{"c", {Gpu("0", 8)}, {}, {}, true};
  auto r = Match({need20, two, tagged, pinned}, {a, b, c}, MatchLimits{});
  // 1 takes a:1 (first worker with a 20G slot); 2 needs two 24G slots: only b has them;
  // 3 needs tag 3080 -> a:0; 4 pinned to b, but b is full -> waits (c's slot is not b's).
  EXPECT_EQ(Placed(r), (std::vector<std::pair<TaskId, std::string>>{{1, "a:1"}, {2, "b:0,1"}, {3, "a:0"}}));
  EXPECT_NE(r.reasons.at(4).find("waiting for a free 1 GPU slot(s), on worker 'b'"), std::string::npos) << r.reasons.at(4);
}

// heart01: an A100 cut into MIG slices on one worker. CUDA shows a process one MIG instance, so
// a 2-GPU task (train --gpus 2) must not get two slices; 1-GPU tasks use them as before.
TEST(MatcherTest, MultiGpuTasksNeverGetMigSlices) {
  MatchWorker heart{"heart01", {Gpu("MIG-aaaa", 20), Gpu("MIG-bbbb", 20)}, {}, {}, true};
  MatchWorker desk{"desk", {Gpu("0", 24), Gpu("1", 24)}, {}, {}, true};
  auto only_mig = Match({Task(1, 2, 10), Task(2, 1, 10)}, {heart}, MatchLimits{});
  ASSERT_EQ(Placed(only_mig).size(), 1u);
  EXPECT_EQ(Placed(only_mig)[0].first, 2u);
  const std::string why = NeverFitsReason(Task(1, 2, 10).resources, {heart});
  EXPECT_NE(why.find("MIG"), std::string::npos) << why;
  auto both = Match({Task(1, 2, 10)}, {heart, desk}, MatchLimits{});
  ASSERT_EQ(Placed(both).size(), 1u);
  EXPECT_EQ(Placed(both)[0].second, "desk:0,1");
}

TEST(MatcherTest, CpuTasksPreferCpuSlots) {
  MatchWorker w{"w", {Gpu("0", 24), Cpu("c0")}, {}, {}, true};
  auto r = Match({Task(1, 0), Task(2, 0), Task(3, 0)}, {w}, MatchLimits{});
  EXPECT_EQ(Placed(r), (std::vector<std::pair<TaskId, std::string>>{{1, "w:c0"}, {2, "w:0"}}));
}

TEST(MatcherTest, SmallTasksBackfillUntilTheBigOneReserves) {
  // w has 2 GPUs, one busy. Big (2 GPUs) is first in the queue and cannot start.
  MatchWorker w{"w", {Gpu("0", 24), Gpu("1", 24)}, {"0"}, {}, true};
  MatchLimits lim;
  lim.reserve_after = 2;
  // Pass with no credit yet: small task 2 backfills the free slot; big is credited.
  auto r1 = Match({Task(1, 2), Task(2, 1)}, {w}, lim);
  EXPECT_EQ(Placed(r1), (std::vector<std::pair<TaskId, std::string>>{{2, "w:1"}}));
  EXPECT_EQ(r1.blocked, std::vector<TaskId>{1});
  EXPECT_TRUE(r1.reservations.empty());
  // Once big has been passed over reserve_after times, it reserves w: the small task waits
  // even though a slot is free.
  auto r2 = Match({Task(1, 2, 0, 2), Task(3, 1)}, {w}, lim);
  EXPECT_TRUE(r2.placements.empty());
  EXPECT_EQ(r2.reservations.at(1), "w");
  EXPECT_NE(r2.reasons.at(1).find("holds a reservation on worker w"), std::string::npos);
  // When the busy slot frees, big gets both slots.
  w.busy.clear();
  auto r3 = Match({Task(1, 2, 0, 2), Task(3, 1)}, {w}, lim);
  EXPECT_EQ(Placed(r3), (std::vector<std::pair<TaskId, std::string>>{{1, "w:0,1"}}));
  // A reservation holds one worker only: another worker still serves small tasks.
  MatchWorker w2{"w2", {Gpu("0", 24)}, {}, {}, true};
  w.busy = {"0"};
  auto r4 = Match({Task(1, 2, 0, 2), Task(3, 1)}, {w, w2}, lim);
  EXPECT_EQ(Placed(r4), (std::vector<std::pair<TaskId, std::string>>{{3, "w2:0"}}));
}

TEST(MatcherTest, NeverFittingTaskDoesNotBlockOrReserve) {
  MatchWorker w{"w", {Gpu("0", 20)}, {}, {}, true};
  MatchLimits lim;
  lim.reserve_after = 0;
  auto r = Match({Task(1, 1, 40), Task(2, 1, 10)}, {w}, lim);
  EXPECT_EQ(Placed(r), (std::vector<std::pair<TaskId, std::string>>{{2, "w:0"}}));
  EXPECT_TRUE(r.reservations.empty());
  EXPECT_TRUE(r.blocked.empty());
  EXPECT_EQ(r.reasons.at(1),
            "no worker could ever hold it: needs 1 GPU slot(s) with >= 40G each; the best worker, w, has 0 fitting slot(s)");
  EXPECT_EQ(NeverFitsReason(Task(1, 1).resources, {}), "no worker is registered yet");
  MatchWorker drained = w;
  drained.accepting = false;
  EXPECT_EQ(NeverFitsReason(Task(1, 1).resources, {drained}), "no worker is accepting work (all draining or lost)");
}

TEST(MatcherTest, SweepCapLimitsRunningTasks) {
  MatchWorker w{"w", {Cpu("a"), Cpu("b"), Cpu("c")}, {}, {}, true};
  MatchLimits lim;
  lim.sweep_cap[7] = 2;
  lim.sweep_running[7] = 1;
  std::vector<MatchTask> q = {Task(1, 0), Task(2, 0), Task(3, 0)};
  for (auto& t : q) t.sweep_id = 7;
  q.push_back(Task(4, 0));
  auto r = Match(q, {w}, lim);
  EXPECT_EQ(Placed(r), (std::vector<std::pair<TaskId, std::string>>{{1, "w:a"}, {4, "w:b"}}));
  EXPECT_NE(r.reasons.at(2).find("max_concurrent of 2"), std::string::npos);
}

}  // namespace
}  // namespace ritsu::sched
