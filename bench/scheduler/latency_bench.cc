// Submit-to-running latency with an idle worker: a client submits one no-op task at a time; a
// fake worker (speaking the real protocol) answers each Assign with Started at once. Measured:
// submit sent -> Assign received by the worker (the moment a real worker forks the child), and
// submit sent -> Started acknowledged (the task is durably RUNNING).
//   sched_latency_bench [--tasks N=2000]
#include <algorithm>
#include <cstring>
#include <vector>

#include "bench/scheduler/inproc_scheduler.h"

using namespace ritsu;
using namespace ritsu::bench;

static double Pct(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

int main(int argc, char** argv) {
  int tasks = 2000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--tasks")) tasks = std::atoi(argv[i + 1]);
    else { std::fprintf(stderr, "unknown flag %s\n", argv[i]); return 2; }
  }
  TempDir dir("latency");
  // The fake worker does not heartbeat (it would interleave replies with the measured ones),
  // so the heartbeat timeout is set beyond the benchmark's length.
  sched::CoreOptions opts;
  opts.heartbeat_timeout_ms = 3'600'000;
  InProcScheduler sched(dir.path(), opts);
  zmq::context_t ctx(1);
  Conn worker(ctx, sched.endpoint());
  Register reg;
  reg.name = "bench-worker";
  reg.slots = {Slot{"c0", "cpu", 0, "", false}};
  worker.Call<RegisterReply>(reg);
  Conn client(ctx, sched.endpoint());
  std::vector<double> to_assign, to_running;
  uint64_t rid = 1000;
  for (int i = 0; i < tasks; ++i) {
    double t0 = NowSec();
    client.Send(Encode(++rid, Submit{{NoopSpec(i)}}));
    Message m = worker.Recv();
    double t_assign = NowSec();
    if (m.type != MsgType::kAssign) { std::fprintf(stderr, "expected assign, got %s\n", MsgTypeName(m.type)); return 1; }
    Assign a = *m.As<Assign>();
    worker.Send(Encode(++rid, Started{a.task_id, a.attempt, 1, 0}));
    // Replies (submit_reply to the client, ack to the worker) arrive in either order.
    (void)worker.Recv();
    double t_running = NowSec();
    (void)client.Recv();
    Finished f;
    f.task_id = a.task_id;
    f.attempt = a.attempt;
    f.exit_code = 0;
    worker.Send(Encode(++rid, f));
    (void)worker.Recv();
    to_assign.push_back((t_assign - t0) * 1e3);
    to_running.push_back((t_running - t0) * 1e3);
  }
  std::printf("submit->assign (worker told to start): p50 %.3f ms, p99 %.3f ms, max %.3f ms (%d tasks)\n",
              Pct(to_assign, 0.5), Pct(to_assign, 0.99), Pct(to_assign, 1.0), tasks);
  std::printf("submit->RUNNING (started acked, durable): p50 %.3f ms, p99 %.3f ms, max %.3f ms\n",
              Pct(to_running, 0.5), Pct(to_running, 0.99), Pct(to_running, 1.0));
  return 0;
}
