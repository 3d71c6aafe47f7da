// A Core over the in-memory Kv and a fake clock, with helpers that play worker and client.
#pragma once

#include <gtest/gtest.h>

#include "scheduler/core.h"

namespace ritsu::sched::testing {

inline TaskSpec Exec(std::string name, int32_t priority = 0, uint32_t gpus = 0) {
  TaskSpec s;
  s.name = std::move(name);
  s.argv = {"true"};
  s.priority = priority;
  s.resources.gpus = gpus;
  return s;
}

inline Slot CpuSlot(std::string id) { return Slot{std::move(id), "cpu", 16ull << 30, "", false}; }
inline Slot GpuSlot(std::string id, uint64_t mem_gb) { return Slot{std::move(id), "gpu", mem_gb << 30, "8.0", true}; }

class CoreFixture : public ::testing::Test {
 protected:
  CoreFixture() : kv_(NewMemKv()) { Reopen(); }

  // A new Core over the same Kv, as after a scheduler restart.
  void Reopen() {
    core_.reset();
    store_ = std::make_unique<Store>(kv_.get());
    ASSERT_TRUE(store_->Init().ok());
    CoreOptions o;
    o.heartbeat_timeout_ms = 10'000;
    o.reserve_after = 2;
    core_ = std::make_unique<Core>(store_.get(), &clock_, o);
    Status st = core_->Load();
    ASSERT_TRUE(st.ok()) << st.ToString();
  }

  void Commit() {
    Status st = core_->Commit();
    ASSERT_TRUE(st.ok()) << st.ToString();
  }

  std::vector<TaskId> SubmitOk(std::vector<TaskSpec> specs) {
    auto r = core_->OnSubmit(Submit{std::move(specs)});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    Commit();
    return r.ok() ? r->ids : std::vector<TaskId>{};
  }

  Peer RegisterWorker(const std::string& name, std::vector<Slot> slots,
                      std::vector<TaskAttemptRef> running = {}) {
    Peer p{"rid-" + name, "", ""};
    Register m;
    m.name = name;
    m.slots = std::move(slots);
    m.running = std::move(running);
    auto r = core_->OnRegister(p, m);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (r.ok()) last_register_ = *r;
    Commit();
    return p;
  }

  // Runs a scheduling pass; returns the assigns sent, in order.
  std::vector<Assign> Schedule() {
    core_->Schedule();
    Commit();
    std::vector<Assign> out;
    for (auto& o : core_->TakeOutbox()) {
      auto m = Decode(o.frame);
      EXPECT_TRUE(m.ok());
      if (m->type == MsgType::kAssign) out.push_back(*m->As<Assign>());
      else other_out_.push_back(o);
    }
    return out;
  }

  void Finish(const Peer& p, TaskId id, uint32_t attempt, int exit_code, std::string metrics = "") {
    Finished f;
    f.task_id = id;
    f.attempt = attempt;
    f.exit_code = exit_code;
    f.metrics_json = std::move(metrics);
    auto r = core_->OnFinished(p, f);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    Commit();
  }

  void Start(const Peer& p, TaskId id, uint32_t attempt) {
    auto r = core_->OnStarted(p, Started{id, attempt, 1234, clock_.NowMs()});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    Commit();
  }

  TaskState StateOf(TaskId id) {
    auto r = core_->GetTask(id);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->state : TaskState::kPending;
  }
  TaskRecord Rec(TaskId id) { return *core_->GetTask(id); }

  FakeClock clock_;
  std::unique_ptr<Kv> kv_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Core> core_;
  RegisterReply last_register_;
  std::vector<Outbound> other_out_;  // non-assign messages seen by Schedule()
};

}  // namespace ritsu::sched::testing
