// Chaos: a mixed load (exec tasks with grandchildren and big logs, and a tiny train job) through
// the real ritsud and ritsu-worker while workers and the scheduler
// are killed with SIGKILL at random moments and the spool's and the store's disks (small tmpfs
// mounts) are filled and freed. What must hold afterwards (docs/guarantees.md):
//   - every acknowledged task ends SUCCEEDED, and no two copies of one task ever ran at the same
//     time (each task holds an flock on its own lock file for its whole process tree, so a
//     surviving grandchild of a killed attempt makes the next attempt's flock fail);
//   - the log of the final attempt is byte-identical to what the task wrote;
//   - no daemon ever exited except when the test killed it.
// The schedule comes from a seeded generator (RITSU_CHAOS_SEED, default fixed; the seed is
// printed) and the chaos phase is bounded (RITSU_CHAOS_SECONDS, default 40).
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/integration/harness.h"

namespace ritsu::itest {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int EnvInt(const char* name, int dflt) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : dflt;
}

// A small tmpfs at `dir`, so that the test can fill the disk under a daemon. Unmounted (lazily:
// a daemon may still hold files there) when the guard goes away.
class TmpfsMount {
 public:
  TmpfsMount(const fs::path& dir, size_t bytes) : dir_(dir) {
    fs::create_directories(dir);
    std::string opts = fmt::format("size={},mode=0700", bytes);
    mounted_ = ::mount("tmpfs", dir.c_str(), "tmpfs", 0, opts.c_str()) == 0;
  }
  ~TmpfsMount() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }

  // Writes a filler file until the file system reports ENOSPC; Free() removes it.
  void Fill() {
    std::ofstream out(dir_ / "zz-filler", std::ios::binary);
    std::string block(64 << 10, 'x');
    while (out.write(block.data(), static_cast<std::streamsize>(block.size()))) {
    }
  }
  void Free() { fs::remove(dir_ / "zz-filler"); }

 private:
  fs::path dir_;
  bool mounted_ = false;
};

// The task: an flock for the whole tree (fd 9 is inherited by every descendant), a grandchild
// and a setsid grandchild that live as long as the task, then `lines` deterministic log lines
// in bursts, so that kills land mid-stream. The attempt number never reaches the log: every
// attempt writes the same bytes.
std::vector<std::string> ChaosTask(const fs::path& dir, int lines, int bursts) {
  std::string script = fmt::format(
      "exec 9>>'{0}/lock-'$RITSU_TASK_ID\n"
      "if ! flock -n 9; then echo \"$RITSU_TASK_ID $RITSU_ATTEMPT\" >> '{0}/violations'; exit 1; fi\n"
      "echo \"start $RITSU_TASK_ID $RITSU_ATTEMPT\" >> '{0}/events'\n"
      "sleep 2 & setsid sleep 2 &\n"
      "b=0; while [ $b -lt {2} ]; do\n"
      "  seq -f \"task-$RITSU_TASK_ID burst-$b line-%g\" 1 {1}; b=$((b+1)); sleep 0.1\n"
      "done\n"
      "wait\n"
      "echo \"end $RITSU_TASK_ID $RITSU_ATTEMPT\" >> '{0}/events'\n",
      dir.string(), lines, bursts);
  return {"/bin/sh", "-c", script};
}

std::string ExpectedLog(uint64_t id, int lines, int bursts) {
  std::string s;
  for (int b = 0; b < bursts; ++b) {
    for (int i = 1; i <= lines; ++i) s += fmt::format("task-{} burst-{} line-{}\n", id, b, i);
  }
  return s;
}

std::string Engine() { return BinaryPath("engine/app/ritsu-engine"); }

// The tiny train job's inputs in `dir`: a random tiny Qwen3 with the real tokenizer, a 6-question
// fine-tuning JSONL.
void MakeTrainInputs(const fs::path& dir) {
  const std::string data = RITSU_DATA_ROOT;
  for (const auto& argv : std::vector<std::vector<std::string>>{
           {Engine(), "make-model", "--arch", "qwen3", "--preset", "tiny", "--seed", "7", "--out", (dir / "model").string(),
            "--tokenizer-from", data + "/models/qwen3-tokenizer"},
           {Engine(), "data", "split", "--data", data + "/data/lawqa_jp/selection.json", "--train-out",
            (dir / "train.json").string(), "--test-out", (dir / "test.json").string(), "--train-size", "6", "--test-size", "4"},
           {Engine(), "data", "build-ft", "--data", (dir / "train.json").string(), "--output", (dir / "ft.jsonl").string(),
            "--mode", "direct"}}) {
    CmdResult r = RunCommand(argv, 120s);
    ASSERT_EQ(r.code, 0) << argv[1] << ": " << r.out << r.err;
  }
}

TEST(Chaos, KillsAndFullDisksNeitherDuplicateNorLoseAnything) {
  const int seed = EnvInt("RITSU_CHAOS_SEED", 20261205);
  const int chaos_seconds = EnvInt("RITSU_CHAOS_SECONDS", 40);
  std::printf("chaos seed %d, %d s of chaos\n", seed, chaos_seconds);
  std::mt19937 rng(static_cast<uint32_t>(seed));

  Cluster c;
  c.heartbeat_timeout = "1500ms";
  // The store and each spool on their own small disk (root only; without it the disk part is
  // left out and said so).
  TmpfsMount store(c.dir() / "data", 64u << 20);
  TmpfsMount spool_a(c.dir() / "spool-wa", 32u << 20);
  TmpfsMount spool_b(c.dir() / "spool-wb", 32u << 20);
  const bool disks = store.mounted() && spool_a.mounted() && spool_b.mounted();
  if (!disks) std::printf("chaos: cannot mount tmpfs here (not root?): no full-disk faults\n");

  ASSERT_NO_FATAL_FAILURE(MakeTrainInputs(c.dir()));
  c.StartScheduler();
  const std::vector<std::string> worker_names = {"wa", "wb"};
  const std::string slots = "cpu0:mem=4G,cpu1:mem=4G";
  const std::vector<std::string> worker_flags = {"--engine", Engine()};
  for (const auto& w : worker_names) c.StartWorker(w, slots, worker_flags);

  // Acknowledged work: small and large logs (the large ones are a few MiB, several times a
  // log chunk), every task with grandchildren.
  struct Job { uint64_t id; int lines, bursts; };
  std::vector<Job> jobs;
  for (int i = 0; i < 16; ++i) {
    int lines = (i % 4 == 0) ? 20000 : 300;  // ~0.7 MiB per burst for the large ones
    int bursts = (i % 4 == 0) ? 5 : 10;
    uint64_t id = c.SubmitExec({"--name", fmt::format("chaos-{}", i), "--max-attempts", "50"},
                               ChaosTask(c.dir(), lines, bursts));
    ASSERT_NE(id, 0u);
    jobs.push_back({id, lines, bursts});
  }

  // The tiny train job: 40 steps with a checkpoint every 2; killed attempts resume from the
  // newest checkpoint (`ritsu submit train` passes --resume auto).
  CmdResult t = RunCommand(
      {"/bin/sh", "-c",
       fmt::format("cd '{}' && RITSU_ENGINE='{}' exec '{}' --scheduler {} submit train --name chaos-train --model-name model "
                   "--train-file ft.jsonl --output-dir lora --max-steps-override 40 --batch-size 2 --learning-rate 1e-2 "
                   "--max-seq-length 512 --loss-on-output-only --logging-steps 1 --save-steps 2 --gpus 0 --max-attempts 50",
                   c.dir().string(), Engine(), BinaryPath("cli/ritsu"), c.endpoint())},
      30s);
  ASSERT_EQ(t.code, 0) << t.out << t.err;
  const uint64_t train_id = std::stoull(t.out);

  // The chaos phase: one fault every 1-3 s.
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(chaos_seconds);
  int kills = 0, restarts_of_ritsud = 0, fills = 0;
  int died_on_their_own = 0;
  auto check_alive = [&](const char* when) {
    if (!c.scheduler()->Running()) {
      ADD_FAILURE() << "ritsud exited without being killed (" << when << ")";
      ++died_on_their_own;
    }
    for (const auto& w : worker_names) {
      if (!c.worker(w)->Running()) {
        ADD_FAILURE() << "worker " << w << " exited without being killed (" << when << ")";
        ++died_on_their_own;
      }
    }
  };
  // More work arrives during the chaos, so that faults land on running tasks all along. A
  // submit refused (ritsud down, its disk full) is not acknowledged and is not expected to run.
  int refused = 0;
  auto submit_more = [&](int n) {
    for (int k = 0; k < n; ++k) {
      const int i = static_cast<int>(jobs.size());
      int lines = (i % 4 == 0) ? 20000 : 300;
      int bursts = (i % 4 == 0) ? 5 : 10;
      std::vector<std::string> args = {"submit", "exec", "--cwd", c.dir().string(), "--name",
                                       fmt::format("chaos-{}", i), "--max-attempts", "50", "--"};
      for (auto& a : ChaosTask(c.dir(), lines, bursts)) args.push_back(a);
      CmdResult r = c.Ritsu(args, 10s);
      if (r.code != 0) {
        ++refused;
        continue;
      }
      jobs.push_back({std::stoull(r.out), lines, bursts});
    }
  };
  while (std::chrono::steady_clock::now() < until && died_on_their_own == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1000 + rng() % 2000));
    check_alive("before a fault");
    submit_more(2);
    int action = static_cast<int>(rng() % (disks ? 4 : 2));
    switch (action) {
      case 0: {  // kill -9 a worker and start it again (same name and spool)
        const std::string& w = worker_names[rng() % worker_names.size()];
        c.KillWorker(w, SIGKILL);
        ++kills;
        std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 1500));
        c.StartWorker(w, slots, worker_flags);
        break;
      }
      case 1:  // kill -9 the scheduler and start it again
        c.KillScheduler(SIGKILL);
        ++restarts_of_ritsud;
        std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 1000));
        c.StartScheduler();
        break;
      case 2: {  // a worker's spool disk full for 1-3 s
        TmpfsMount& s = (rng() % 2) ? spool_a : spool_b;
        s.Fill();
        ++fills;
        std::this_thread::sleep_for(std::chrono::milliseconds(1000 + rng() % 2000));
        s.Free();
        break;
      }
      case 3:  // the store's disk full for 1-3 s
        store.Fill();
        ++fills;
        std::this_thread::sleep_for(std::chrono::milliseconds(1000 + rng() % 2000));
        store.Free();
        break;
    }
  }
  std::printf("chaos: %d worker kills, %d scheduler kills, %d full disks; %zu tasks acknowledged, %d submits refused\n",
              kills, restarts_of_ritsud, fills, jobs.size(), refused);

  // Every acknowledged task ends SUCCEEDED.
  std::vector<std::string> wait = {"wait", "--timeout", "240s"};
  for (const auto& j : jobs) wait.push_back(std::to_string(j.id));
  wait.push_back(std::to_string(train_id));
  CmdResult w = c.Ritsu(wait, 300s);
  EXPECT_EQ(w.code, 0) << w.out << w.err;

  // No second copy ever held a task's lock while another was alive.
  EXPECT_EQ(ReadAll(c.dir() / "violations"), "") << "tasks that found another copy running";

  for (const auto& j : jobs) {
    auto show = c.Show(j.id);
    EXPECT_EQ(show.value("state", "?"), "SUCCEEDED") << "task " << j.id << " " << show.dump();
    CmdResult logs = c.Ritsu({"logs", std::to_string(j.id)}, 60s);
    ASSERT_EQ(logs.code, 0) << logs.err;
    std::string expected = ExpectedLog(j.id, j.lines, j.bursts);
    EXPECT_EQ(logs.out.size(), expected.size()) << "task " << j.id;
    EXPECT_TRUE(logs.out == expected) << "task " << j.id << ": log differs from what it wrote";
  }

  // The train job ended once, with its adapter.
  auto train = c.Show(train_id);
  EXPECT_EQ(train.value("state", "?"), "SUCCEEDED") << train.dump();
  std::printf("chaos: the train job took %zu attempt(s)\n", train["attempts"].size());
  EXPECT_TRUE(fs::exists(c.dir() / "lora" / "adapter_model.safetensors"));

  // Each daemon is still the process the test last started: none died on its own.
  check_alive("at the end");
}

}  // namespace
}  // namespace ritsu::itest
