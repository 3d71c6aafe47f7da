// The RocksDB store: everything written is there after a reopen; another schema is refused;
// key order gives the queue and log order the scheduler relies on.
#include "scheduler/store.h"

#include <filesystem>
#include <unistd.h>

#include <gtest/gtest.h>

#include "scheduler/clock.h"
#include "scheduler/core.h"

namespace ritsu::sched {
namespace {

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("ritsu-store-test-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(StoreTest, ReopenKeepsEverything) {
  TaskId id;
  {
    auto kv = OpenRocksKv(dir_);
    ASSERT_TRUE(kv.ok()) << kv.status().ToString();
    Store store(kv->get());
    ASSERT_TRUE(store.Init().ok());
    FakeClock clock;
    Core core(&store, &clock, CoreOptions{});
    ASSERT_TRUE(core.Load().ok());
    TaskSpec s;
    s.name = "persist";
    s.argv = {"echo", "hi"};
    s.labels = {{"k", "v"}};
    auto r = core.OnSubmit(Submit{{s}});
    ASSERT_TRUE(r.ok());
    id = r->ids[0];
    Peer p{"rid", "", ""};
    Register reg;
    reg.name = "w1";
    reg.slots = {Slot{"c0", "cpu", 0, "", false}};
    ASSERT_TRUE(core.OnRegister(p, reg).ok());
    core.Schedule();
    ASSERT_TRUE(core.OnStarted(p, Started{id, 1, 42, clock.NowMs()}).ok());
    ASSERT_TRUE(core.OnLogChunk(p, LogChunk{id, 1, LogStream::kStdout, 0, "hi\n"}).ok());
    Finished f;
    f.task_id = id;
    f.attempt = 1;
    f.exit_code = 0;
    f.metrics_json = "{\"acc\":1}";
    ASSERT_TRUE(core.OnFinished(p, f).ok());
    ASSERT_TRUE(core.OnSweepSubmit(SweepSubmit{"s.toml", "[base]\nargv=[\"x\"]\n", ""}).ok());
    ASSERT_TRUE(core.Commit().ok());
  }
  auto kv = OpenRocksKv(dir_);
  ASSERT_TRUE(kv.ok());
  Store store(kv->get());
  ASSERT_TRUE(store.Init().ok());
  auto meta = store.LoadMeta();
  ASSERT_TRUE(meta.ok());
  EXPECT_EQ(meta->next_task_id, id + 2);  // the sweep's task too
  EXPECT_EQ(meta->next_sweep_id, 2u);
  EXPECT_EQ(meta->counts[static_cast<int>(TaskState::kSucceeded)], 1u);
  EXPECT_EQ(meta->counts[static_cast<int>(TaskState::kQueued)], 1u);
  auto t = store.GetTask(id);
  ASSERT_TRUE(t.ok() && t->has_value());
  EXPECT_EQ((*t)->spec.name, "persist");
  EXPECT_EQ((*t)->spec.argv, (std::vector<std::string>{"echo", "hi"}));
  EXPECT_EQ((*t)->spec.labels.at("k"), "v");
  EXPECT_EQ((*t)->state, TaskState::kSucceeded);
  EXPECT_EQ((*t)->metrics_json, "{\"acc\":1}");
  auto atts = store.GetAttempts(id);
  ASSERT_TRUE(atts.ok());
  ASSERT_EQ(atts->size(), 1u);
  EXPECT_EQ((*atts)[0].pid, 42);
  EXPECT_EQ((*atts)[0].worker, "w1");
  EXPECT_EQ((*atts)[0].log_bytes, 3u);
  auto log = store.ReadLog(id, 1, 0, 1 << 20);
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->size(), 1u);
  EXPECT_EQ((*log)[0].data, "hi\n");
  auto ws = store.LoadWorkers();
  ASSERT_TRUE(ws.ok());
  ASSERT_EQ(ws->size(), 1u);
  EXPECT_EQ((*ws)[0].name, "w1");
  auto sw = store.GetSweep(1);
  ASSERT_TRUE(sw.ok() && sw->has_value());
  EXPECT_EQ((*sw)->trials.size(), 1u);
  auto succeeded = store.TasksInState(TaskState::kSucceeded, 0);
  EXPECT_EQ(*succeeded, std::vector<TaskId>{id});
  auto deps = store.Dependents(id);
  EXPECT_TRUE(deps->empty());
}

TEST_F(StoreTest, OtherSchemaVersionIsRefusedAndLeftAlone) {
  {
    auto kv = OpenRocksKv(dir_);
    ASSERT_TRUE(kv.ok());
    Batch b;
    b.Put(Cf::kMeta, "schema_version", "99");
    ASSERT_TRUE((*kv)->Write(b, true).ok());
  }
  auto kv = OpenRocksKv(dir_);
  ASSERT_TRUE(kv.ok());
  Store store(kv->get());
  Status st = store.Init();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), Status::Code::kFailedPrecondition);
  EXPECT_NE(st.message().find("schema version 99"), std::string::npos) << st.message();
  auto v = (*kv)->Get(Cf::kMeta, "schema_version");
  EXPECT_EQ(**v, "99");  // not overwritten
}

TEST_F(StoreTest, SecondOpenOfTheSameDirIsRefused) {
  auto kv = OpenRocksKv(dir_);
  ASSERT_TRUE(kv.ok());
  auto again = OpenRocksKv(dir_);
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.status().message().find("locked by another process"), std::string::npos) << again.status().message();
}

TEST_F(StoreTest, ScanOrderAndReverseMatchBetweenRocksAndMemory) {
  auto rocks = OpenRocksKv(dir_);
  ASSERT_TRUE(rocks.ok());
  auto mem = NewMemKv();
  for (Kv* kv : {rocks->get(), mem.get()}) {
    Batch b;
    for (uint64_t off : {0u, 10u, 300u, 70000u}) b.Put(Cf::kLogs, LogKey(5, 1, off), std::string(1, '\0') + "x");
    b.Put(Cf::kLogs, LogKey(5, 2, 0), std::string(1, '\0') + "other attempt");
    ASSERT_TRUE(kv->Write(b, false).ok());
    std::vector<std::string> fwd, rev;
    for (auto c = kv->Scan(Cf::kLogs, AttemptKey(5, 1), AttemptKey(5, 2)); c->Valid(); c->Next()) fwd.emplace_back(c->key());
    for (auto c = kv->Scan(Cf::kLogs, AttemptKey(5, 1), AttemptKey(5, 2), true); c->Valid(); c->Next()) rev.emplace_back(c->key());
    ASSERT_EQ(fwd.size(), 4u);
    EXPECT_EQ(fwd[3], LogKey(5, 1, 70000));  // numeric order, not text order
    std::reverse(rev.begin(), rev.end());
    EXPECT_EQ(fwd, rev);
    auto fl = kv->Floor(Cf::kLogs, LogKey(5, 1, 299), AttemptKey(5, 1));
    ASSERT_TRUE(fl.ok() && fl->has_value());
    EXPECT_EQ((*fl)->first, LogKey(5, 1, 10));
    auto none = kv->Floor(Cf::kLogs, LogKey(4, 9, 0), AttemptKey(4, 9));
    EXPECT_FALSE(none->has_value());
  }
}

}  // namespace
}  // namespace ritsu::sched
