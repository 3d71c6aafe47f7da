// Log streaming worker -> scheduler -> follower: a fake worker streams LogChunks of one running
// task (up to --window unacknowledged chunks, as a real worker's spool allows) while a follower
// long-polls Logs like `ritsu logs -f`. Reports ingest MB/s (acked by the store), end-to-end
// MB/s (bytes the follower received), and the process's peak RSS (scheduler + both clients):
// chunks go to RocksDB, so RSS must not grow with the volume.
//   sched_log_bench [--mb M=512] [--chunk KiB=64] [--window W=16]
#include <cstring>

#include "bench/scheduler/inproc_scheduler.h"

using namespace ritsu;
using namespace ritsu::bench;

int main(int argc, char** argv) {
  long mb = 512, chunk_kib = 64, window = 16;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--mb")) mb = std::atol(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--chunk")) chunk_kib = std::atol(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--window")) window = std::atol(argv[i + 1]);
    else { std::fprintf(stderr, "unknown flag %s\n", argv[i]); return 2; }
  }
  TempDir dir("logs");
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
  TaskId id = client.Call<SubmitReply>(Submit{{NoopSpec(0)}}).ids.at(0);
  Message m = worker.Recv();
  Assign a = *m.As<Assign>();
  worker.Call<Ack>(Started{a.task_id, a.attempt, 1, 0});

  const uint64_t total = static_cast<uint64_t>(mb) << 20;
  const size_t chunk = static_cast<size_t>(chunk_kib) << 10;
  std::string line = "step 000123 loss 1.234567 lr 0.000200 grad_norm 0.98765 tokens/s 12345.6\n";
  std::string data;
  while (data.size() < chunk) data += line;
  data.resize(chunk);

  std::atomic<uint64_t> followed{0};
  double t0 = NowSec();
  std::thread follower([&] {
    Conn f(ctx, sched.endpoint());
    uint64_t off = 0;
    while (off < total) {
      LogsReply r = f.Call<LogsReply>(Logs{id, 1, off, 4u << 20, 5000});
      for (const auto& p : r.pieces) followed += p.data.size();
      off = r.next_offset;
    }
  });
  uint64_t sent = 0, acked = 0;
  long inflight = 0;
  uint64_t rid = 100;
  while (acked < total) {
    while (inflight < window && sent < total) {
      worker.Send(Encode(++rid, LogChunk{id, 1, LogStream::kStdout, sent, data}));
      sent += data.size();
      ++inflight;
    }
    LogAck ack = *worker.Recv().As<LogAck>();
    acked = std::max<uint64_t>(acked, ack.acked_offset);
    --inflight;
  }
  double t_ingest = NowSec() - t0;
  follower.join();
  double t_follow = NowSec() - t0;
  std::printf("log ingest: %ld MiB in %.2f s = %.1f MiB/s durable (chunk %ld KiB, window %ld)\n", mb, t_ingest,
              mb / t_ingest, chunk_kib, window);
  std::printf("log streaming worker->scheduler->follower: %.1f MiB/s end to end (%.2f s); peak RSS of the whole process %ld MiB\n",
              (followed.load() / 1048576.0) / t_follow, t_follow, MaxRssMiB());
  return 0;
}
