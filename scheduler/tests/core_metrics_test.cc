// The metric series (log stream 2): acknowledged like a log stream, stored apart from the log,
// bounded per attempt (a complete prefix is kept), durable across a restart.
#include <gtest/gtest.h>

#include "scheduler/tests/core_fixture.h"

namespace ritsu::sched::testing {
namespace {

class MetricsFixture : public CoreFixture {
 protected:
  uint64_t Chunk(const Peer& p, TaskId id, LogStream s, uint64_t offset, std::string data) {
    LogChunk c;
    c.task_id = id;
    c.attempt = 1;
    c.stream = s;
    c.offset = offset;
    c.data = std::move(data);
    auto r = core_->OnLogChunk(p, c);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    Commit();
    return r.ok() ? r->acked_offset : 0;
  }
  MetricsReply Series(TaskId id, uint32_t attempt = 0) {
    auto r = core_->OnMetrics(MetricsRequest{id, attempt, 0, 0});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : MetricsReply{};
  }
};

TEST_F(MetricsFixture, SeriesIsStoredApartFromTheLogAndSurvivesARestart) {
  auto ids = SubmitOk({Exec("train")});
  Peer w = RegisterWorker("w1", {CpuSlot("c0")});
  Schedule();
  Start(w, ids[0], 1);
  EXPECT_EQ(Chunk(w, ids[0], LogStream::kStdout, 0, "step 1\n"), 7u);
  EXPECT_EQ(Chunk(w, ids[0], LogStream::kMetrics, 0, "{\"step\":1}\n"), 11u);
  EXPECT_EQ(Chunk(w, ids[0], LogStream::kMetrics, 0, "{\"step\":1}\n{\"step\":2}\n"), 22u) << "a resend is trimmed";
  MetricsReply m = Series(ids[0]);
  EXPECT_EQ(m.attempt, 1u);
  EXPECT_EQ(m.data, "{\"step\":1}\n{\"step\":2}\n");
  EXPECT_EQ(m.next_offset, 22u);
  EXPECT_FALSE(m.complete) << "the attempt still runs";
  auto logs = core_->OnLogs(Logs{ids[0], 0, 0, 0, 0});
  ASSERT_TRUE(logs.ok() && logs->has_value());
  ASSERT_EQ((*logs)->pieces.size(), 1u);
  EXPECT_EQ((*logs)->pieces[0].data, "step 1\n") << "metrics are not part of the log";
  Reopen();  // a kill -9 of ritsud: the committed series is on disk
  Peer w2 = RegisterWorker("w1", {CpuSlot("c0")}, {TaskAttemptRef{ids[0], 1}});
  EXPECT_EQ(Chunk(w2, ids[0], LogStream::kMetrics, 22, "{\"step\":3}\n"), 33u);
  Finish(w2, ids[0], 1, 0);
  m = Series(ids[0]);
  EXPECT_EQ(m.data, "{\"step\":1}\n{\"step\":2}\n{\"step\":3}\n");
  EXPECT_TRUE(m.complete);
  // Paging from an offset it returned.
  auto page = core_->OnMetrics(MetricsRequest{ids[0], 1, 11, 0});
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->data, "{\"step\":2}\n{\"step\":3}\n");
  auto none = core_->OnMetrics(MetricsRequest{ids[0], 2, 0, 0});
  EXPECT_EQ(none.status().code(), Status::Code::kNotFound);
}

TEST_F(MetricsFixture, OverTheLimitTheRestIsCountedNotStored) {
  auto ids = SubmitOk({Exec("train")});
  Peer w = RegisterWorker("w1", {CpuSlot("c0")});
  Schedule();
  Start(w, ids[0], 1);
  std::string line(1000, 'x');
  line = "{\"x\":\"" + line + "\"}\n";
  std::string big;
  while (big.size() + line.size() <= kMaxLogChunkBytes) big += line;
  uint64_t off = 0;
  for (int i = 0; i < 4; ++i) off = Chunk(w, ids[0], LogStream::kMetrics, off, big);  // 4 x ~1 MiB = under 4 MiB
  MetricsReply m = Series(ids[0]);
  EXPECT_EQ(m.stored_bytes, off);
  EXPECT_EQ(m.dropped_bytes, 0u);
  uint64_t before = off;
  off = Chunk(w, ids[0], LogStream::kMetrics, off, big);  // does not fit
  off = Chunk(w, ids[0], LogStream::kMetrics, off, "{\"late\":1}\n");  // would fit, but after a gap
  EXPECT_EQ(off, before + big.size() + 11) << "everything is acknowledged";
  m = Series(ids[0]);
  EXPECT_EQ(m.stored_bytes, before);
  EXPECT_EQ(m.dropped_bytes, big.size() + 11);
  std::string all;
  MetricsRequest req{ids[0], 1, 0, 0};
  for (int i = 0; i < 10; ++i) {
    auto r = core_->OnMetrics(req);
    ASSERT_TRUE(r.ok());
    all += r->data;
    if (r->next_offset >= r->stored_bytes) break;
    req.offset = r->next_offset;
  }
  EXPECT_EQ(all, big + big + big + big);
}

}  // namespace
}  // namespace ritsu::sched::testing
