// Durable submissions per second: clients send batch submits over loopback to a real ritsud
// core (RocksDB, every reply after a synced WAL write).
//   sched_submit_bench [--tasks N=200000] [--batch B=1000] [--clients C=4]
#include <cstring>
#include <vector>

#include "bench/scheduler/inproc_scheduler.h"

using namespace ritsu;
using namespace ritsu::bench;

int main(int argc, char** argv) {
  int tasks = 200000, batch = 1000, clients = 4;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--tasks")) tasks = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--batch")) batch = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--clients")) clients = std::atoi(argv[i + 1]);
    else { std::fprintf(stderr, "unknown flag %s\n", argv[i]); return 2; }
  }
  if (tasks <= 0 || batch <= 0 || clients <= 0 || static_cast<size_t>(batch) > kMaxSubmitBatch) {
    std::fprintf(stderr, "bad --tasks/--batch/--clients\n");
    return 2;
  }
  TempDir dir("submit");
  InProcScheduler sched(dir.path());
  zmq::context_t ctx(1);
  int per_client = tasks / clients / batch;
  std::vector<std::thread> threads;
  std::atomic<long> done{0};
  double t0 = NowSec();
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      Conn conn(ctx, sched.endpoint());
      Submit sub;
      for (int i = 0; i < batch; ++i) sub.tasks.push_back(NoopSpec(c * 1000000 + i));
      for (int b = 0; b < per_client; ++b) {
        auto r = conn.Call<SubmitReply>(sub);
        done += static_cast<long>(r.ids.size());
      }
    });
  }
  for (auto& t : threads) t.join();
  double secs = NowSec() - t0;
  std::printf("submit: %ld tasks in %.3f s = %.0f durable submissions/s (batch %d, %d clients, %llu commits, max RSS %ld MiB)\n",
              done.load(), secs, done.load() / secs, batch, clients,
              static_cast<unsigned long long>(sched.stats().commits), MaxRssMiB());
  return 0;
}
