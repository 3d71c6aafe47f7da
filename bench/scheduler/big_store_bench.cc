// A store with many task records (default 1,000,000: 99% SUCCEEDED with an attempt each, 1%
// QUEUED, as after months of use), then:
//   restart to serving: open RocksDB + check schema + load + bind + first status reply;
//   `status` summary latency (p50/p99 of 200 calls) and a 1000-row listing.
//   sched_big_store_bench [--tasks N=1000000] [--dir DIR (reuse/keep the store)]
#include <algorithm>
#include <cstring>
#include <vector>

#include "bench/scheduler/inproc_scheduler.h"

using namespace ritsu;
using namespace ritsu::bench;

static void Fill(const std::string& dir, long n) {
  auto kv = sched::OpenRocksKv(dir);
  if (!kv.ok()) Die("open", kv.status());
  sched::Store store(kv->get());
  if (Status st = store.Init(); !st.ok()) Die("init", st);
  sched::StoreMeta meta;
  sched::Batch b;
  TimeMs now = 1'700'000'000'000;
  for (long i = 1; i <= n; ++i) {
    TaskRecord r;
    r.id = static_cast<TaskId>(i);
    r.seq = static_cast<uint64_t>(i);
    r.spec = NoopSpec(static_cast<int>(i));
    r.spec.argv = {"ritsu-engine", "eval", "--data", "selection.json", "--hf-model-name", "Qwen/Qwen3-8B"};
    r.submitted_ms = r.updated_ms = now + i;
    bool queued = i % 100 == 0;
    r.state = queued ? TaskState::kQueued : TaskState::kSucceeded;
    if (!queued) {
      r.attempt = 1;
      r.exit_code = 0;
      r.worker = "heart01-mig0";
      r.metrics_json = R"({"accuracy":0.6143})";
      Attempt a;
      a.attempt = 1;
      a.worker = r.worker;
      a.slots = {"MIG-0"};
      a.exit_code = 0;
      a.wall_ms = 60000;
      store.PutAttempt(b, r.id, a);
    }
    ++meta.counts[static_cast<int>(r.state)];
    store.PutTask(b, r, std::nullopt);
    if (i % 10000 == 0 || i == n) {
      meta.next_task_id = static_cast<TaskId>(i + 1);
      meta.next_seq = static_cast<uint64_t>(i + 1);
      store.PutMeta(b, meta);
      if (Status st = (*kv)->Write(b, i == n); !st.ok()) Die("write", st);
      b.Clear();
    }
  }
}

static double Pct(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

int main(int argc, char** argv) {
  long tasks = 1000000;
  std::string keep_dir;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--tasks")) tasks = std::atol(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--dir")) keep_dir = argv[i + 1];
    else { std::fprintf(stderr, "unknown flag %s\n", argv[i]); return 2; }
  }
  TempDir tmp("bigstore");
  std::string dir = keep_dir.empty() ? tmp.path() : keep_dir;
  bool exists = !keep_dir.empty() && std::filesystem::exists(dir + "/CURRENT");
  if (!exists) {
    double t0 = NowSec();
    Fill(dir, tasks);
    std::printf("filled %ld task records in %.1f s\n", tasks, NowSec() - t0);
  }
  zmq::context_t ctx(1);
  double t0 = NowSec();
  InProcScheduler sched(dir);
  Conn c(ctx, sched.endpoint());
  StatusReply first = c.Call<StatusReply>(StatusRequest{{}, 0, true, 0, {}});
  double restart = NowSec() - t0;
  uint64_t total = 0;
  for (const auto& [k, v] : first.counts) total += v;
  std::printf("restart to serving with %llu task records: %.3f s (open + schema check + load + bind + first status reply)\n",
              static_cast<unsigned long long>(total), restart);
  std::vector<double> sum, list;
  for (int i = 0; i < 200; ++i) {
    double s = NowSec();
    c.Call<StatusReply>(StatusRequest{{}, 0, true, 0, {}});
    sum.push_back((NowSec() - s) * 1e3);
  }
  for (int i = 0; i < 20; ++i) {
    double s = NowSec();
    StatusReply r = c.Call<StatusReply>(StatusRequest{{}, 0, false, 1000, {}});
    list.push_back((NowSec() - s) * 1e3);
    if (r.tasks.size() != 1000) { std::fprintf(stderr, "expected 1000 rows, got %zu\n", r.tasks.size()); return 1; }
  }
  std::printf("status summary: p50 %.3f ms, p99 %.3f ms; status listing 1000 newest rows: p50 %.2f ms; peak RSS %ld MiB\n",
              Pct(sum, 0.5), Pct(sum, 0.99), Pct(list, 0.5), MaxRssMiB());
  return 0;
}
