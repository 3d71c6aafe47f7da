// Codec tests: every frame the scheduler accepts round-trips, and every kind of bad frame is
// refused with a message instead of a crash.
#include "common/protocol.h"

#include <random>

#include <gtest/gtest.h>

namespace ritsu {
namespace {

// Builds a frame with an arbitrary header, for the negative cases.
std::string RawFrame(uint64_t version, uint64_t type, uint64_t request_id,
                     const std::function<void(msgpack::packer<msgpack::sbuffer>&)>& body) {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
  pk.pack_array(4);
  pk.pack(version);
  pk.pack(type);
  pk.pack(request_id);
  body(pk);
  return std::string(buf.data(), buf.size());
}

TEST(ProtocolTest, SubmitRoundTripKeepsEveryField) {
  Submit s;
  TaskSpec t;
  t.name = "train-v1";
  t.kind = TaskKind::kTrain;
  t.argv = {"--model-name", "Qwen/Qwen3-8B", "--use-4bit"};
  t.cwd = "/home/lab/runs";
  t.env = {{"HF_HOME", "/data/hf"}};
  t.resources.gpus = 1;
  t.resources.gpu_mem_bytes = 20ull << 30;
  t.resources.tags = {"a100"};
  t.resources.host = "heart01";
  t.priority = -3;
  t.max_attempts = 4;
  t.timeout_ms = 7'200'000;
  t.after = {7, 9};
  t.after_in_batch = {0};
  t.labels = {{"trial", "3"}};
  s.tasks = {t, t};
  s.tasks[1].name = "second";

  std::string frame = Encode(42, s);
  auto m = Decode(frame);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->version, kProtocolVersion);
  EXPECT_EQ(m->type, MsgType::kSubmit);
  EXPECT_EQ(m->request_id, 42u);
  auto back = m->As<Submit>();
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_EQ(back->tasks.size(), 2u);
  const TaskSpec& b = back->tasks[0];
  EXPECT_EQ(b.name, "train-v1");
  EXPECT_EQ(b.kind, TaskKind::kTrain);
  EXPECT_EQ(b.argv, t.argv);
  EXPECT_EQ(b.cwd, t.cwd);
  EXPECT_EQ(b.env, t.env);
  EXPECT_EQ(b.resources.gpus, 1u);
  EXPECT_EQ(b.resources.gpu_mem_bytes, 20ull << 30);
  EXPECT_EQ(b.resources.tags, t.resources.tags);
  EXPECT_EQ(b.resources.host, "heart01");
  EXPECT_EQ(b.priority, -3);
  EXPECT_EQ(b.max_attempts, 4u);
  EXPECT_EQ(b.timeout_ms, 7'200'000);
  EXPECT_EQ(b.after, t.after);
  EXPECT_EQ(b.after_in_batch, t.after_in_batch);
  EXPECT_EQ(b.labels, t.labels);
  EXPECT_EQ(back->tasks[1].name, "second");
}

TEST(ProtocolTest, LogChunkCarriesBinaryData) {
  LogChunk c;
  c.task_id = 12;
  c.attempt = 2;
  c.stream = LogStream::kStderr;
  c.offset = 1 << 20;
  c.data = std::string("line\0with nul \xff\xfe\n", 19);
  auto m = Decode(Encode(5, c));
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  auto back = m->As<LogChunk>();
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->task_id, 12u);
  EXPECT_EQ(back->attempt, 2u);
  EXPECT_EQ(back->stream, LogStream::kStderr);
  EXPECT_EQ(back->offset, 1u << 20);
  EXPECT_EQ(back->data, c.data);
}

TEST(ProtocolTest, FinishedAndRegisterRoundTrip) {
  Finished f;
  f.task_id = 3; f.attempt = 1; f.exit_code = -1; f.signal = 9; f.wall_ms = 1234;
  f.peak_rss_bytes = 5ull << 30; f.metrics_json = R"({"loss":0.5})"; f.error = "killed";
  auto fm = Decode(Encode(0, f));
  ASSERT_TRUE(fm.ok());
  auto fb = fm->As<Finished>();
  ASSERT_TRUE(fb.ok());
  EXPECT_EQ(fb->signal, 9);
  EXPECT_EQ(fb->exit_code, -1);
  EXPECT_EQ(fb->peak_rss_bytes, 5ull << 30);
  EXPECT_EQ(fb->metrics_json, f.metrics_json);

  Register r;
  r.name = "heart01-mig0";
  r.slots = {Slot{"MIG-abc", "A100 MIG 2g.20gb", 20ull << 30, "8.0", true}};
  r.running = {TaskAttemptRef{17, 2}};
  auto rm = Decode(Encode(1, r));
  ASSERT_TRUE(rm.ok());
  auto rb = rm->As<Register>();
  ASSERT_TRUE(rb.ok());
  ASSERT_EQ(rb->slots.size(), 1u);
  EXPECT_EQ(rb->slots[0].id, "MIG-abc");
  EXPECT_TRUE(rb->slots[0].is_gpu);
  ASSERT_EQ(rb->running.size(), 1u);
  EXPECT_EQ(rb->running[0].task_id, 17u);
  EXPECT_EQ(rb->running[0].attempt, 2u);
}

TEST(ProtocolTest, ErrorReplyMapsBackToStatus) {
  auto m = Decode(EncodeError(9, Status::NotFound("task 77 does not exist")));
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->type, MsgType::kError);
  auto e = m->As<ErrorReply>();
  ASSERT_TRUE(e.ok());
  Status s = ErrorToStatus(*e);
  EXPECT_EQ(s.code(), Status::Code::kNotFound);
  EXPECT_EQ(s.message(), "task 77 does not exist");
}

TEST(ProtocolTest, MissingFieldsKeepDefaultsAndUnknownFieldsAreIgnored) {
  // A newer sender may add fields; an older one may omit them.
  std::string frame = RawFrame(kProtocolVersion, static_cast<uint64_t>(MsgType::kShow), 3,
                               [](auto& pk) {
                                 pk.pack_map(2);
                                 pk.pack(std::string("task_id"));
                                 pk.pack(uint64_t{55});
                                 pk.pack(std::string("future_field"));
                                 pk.pack(std::string("x"));
                               });
  auto m = Decode(frame);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  auto s = m->As<Show>();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->task_id, 55u);
  auto st = Decode(RawFrame(kProtocolVersion, static_cast<uint64_t>(MsgType::kStatus), 3,
                            [](auto& pk) { pk.pack_map(0); }));
  ASSERT_TRUE(st.ok());
  auto sr = st->As<StatusRequest>();
  ASSERT_TRUE(sr.ok());
  EXPECT_FALSE(sr->summary_only);
  EXPECT_TRUE(sr->states.empty());
}

TEST(ProtocolTest, WrongVersionIsRefusedWithBothVersions) {
  std::string frame = RawFrame(kProtocolVersion + 1, static_cast<uint64_t>(MsgType::kWorkers), 1,
                               [](auto& pk) { pk.pack_map(0); });
  auto m = Decode(frame);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), Status::Code::kFailedPrecondition);
  EXPECT_NE(m.status().message().find("protocol version 2"), std::string::npos);
}

TEST(ProtocolTest, UnknownTypeIsRefused) {
  for (uint64_t t : {uint64_t{9}, uint64_t{999}, uint64_t{1} << 40}) {
    auto m = Decode(RawFrame(kProtocolVersion, t, 1, [](auto& pk) { pk.pack_map(0); }));
    ASSERT_FALSE(m.ok()) << t;
    EXPECT_NE(m.status().message().find("unknown message type"), std::string::npos);
  }
}

TEST(ProtocolTest, MalformedHeadersAreRefused) {
  // Not an array.
  {
    msgpack::sbuffer b;
    msgpack::pack(b, std::string("hello"));
    EXPECT_FALSE(Decode(std::string_view(b.data(), b.size())).ok());
  }
  // Array of 3.
  {
    msgpack::sbuffer b;
    msgpack::pack(b, std::vector<int>{1, 2, 3});
    EXPECT_FALSE(Decode(std::string_view(b.data(), b.size())).ok());
  }
  // Body not a map.
  EXPECT_FALSE(Decode(RawFrame(kProtocolVersion, 52, 1, [](auto& pk) { pk.pack(7); })).ok());
  // Trailing bytes.
  std::string ok = Encode(1, Workers{});
  ASSERT_TRUE(Decode(ok).ok());
  EXPECT_FALSE(Decode(ok + "x").ok());
  // Truncated.
  EXPECT_FALSE(Decode(ok.substr(0, ok.size() - 1)).ok());
  // Empty.
  EXPECT_FALSE(Decode("").ok());
}

TEST(ProtocolTest, BodyOfWrongShapeIsRefusedByAs) {
  // argv given as an integer instead of an array of strings.
  std::string frame = RawFrame(kProtocolVersion, static_cast<uint64_t>(MsgType::kSubmit), 1,
                               [](auto& pk) {
                                 pk.pack_map(1);
                                 pk.pack(std::string("tasks"));
                                 pk.pack_array(1);
                                 pk.pack_map(1);
                                 pk.pack(std::string("argv"));
                                 pk.pack(12);
                               });
  auto m = Decode(frame);
  ASSERT_TRUE(m.ok());
  auto s = m->As<Submit>();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("malformed 'submit'"), std::string::npos);
  // As<> with the wrong struct type.
  auto w = Decode(Encode(1, Workers{}));
  ASSERT_TRUE(w.ok());
  EXPECT_FALSE(w->As<Submit>().ok());
}

TEST(ProtocolTest, ConvertErrorsNameTheMessageAndTheField) {
  // Register whose `slots` is a string: the error must say which field, not just "bad_cast".
  std::string frame = RawFrame(kProtocolVersion, static_cast<uint64_t>(MsgType::kRegister), 1,
                               [](auto& pk) {
                                 pk.pack_map(2);
                                 pk.pack(std::string("name"));
                                 pk.pack(std::string("w1"));
                                 pk.pack(std::string("slots"));
                                 pk.pack(std::string("gpu0"));
                               });
  auto m = Decode(frame);
  ASSERT_TRUE(m.ok());
  auto r = m->As<Register>();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("'register'"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("field 'slots'"), std::string::npos) << r.status().message();
}

TEST(ProtocolTest, RequestIdIsReadableFromFramesThatDoNotDecode) {
  // Another protocol version.
  std::string other = RawFrame(kProtocolVersion + 1, static_cast<uint64_t>(MsgType::kStatus), 4242,
                               [](auto& pk) { pk.pack_map(0); });
  EXPECT_FALSE(Decode(other).ok());
  EXPECT_EQ(PeekRequestId(other), 4242u);
  // A submit over the batch limit ("split the batch").
  Submit s;
  s.tasks.resize(kMaxSubmitBatch + 1);
  std::string big = Encode(uint64_t{1} << 40, s);
  EXPECT_FALSE(Decode(big).ok());
  EXPECT_EQ(PeekRequestId(big), uint64_t{1} << 40);
  // Over the frame limit: only the header is looked at.
  std::string huge = Encode(77, StatusRequest{}) + std::string(kMaxFrameBytes, 'x');
  EXPECT_FALSE(Decode(huge).ok());
  EXPECT_EQ(PeekRequestId(huge), 77u);
  // Every small id encoding.
  for (uint64_t id : {uint64_t{0}, uint64_t{5}, uint64_t{200}, uint64_t{70000}, uint64_t{5000000000}}) {
    EXPECT_EQ(PeekRequestId(Encode(id, Workers{})), id);
  }
  // Unreadable headers give 0.
  EXPECT_EQ(PeekRequestId(""), 0u);
  EXPECT_EQ(PeekRequestId("hello"), 0u);
  EXPECT_EQ(PeekRequestId(std::string("\x94\x01", 2)), 0u);
}

TEST(ProtocolTest, OversizedFramesAndChunksAreRefused) {
  std::string big(kMaxFrameBytes + 1, '\0');
  auto m = Decode(big);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("exceeds the limit"), std::string::npos);

  LogChunk c;
  c.data.assign(kMaxLogChunkBytes + 1, 'a');
  auto cm = Decode(Encode(1, c));
  ASSERT_FALSE(cm.ok());
  EXPECT_NE(cm.status().message().find("log_chunk data"), std::string::npos);
  c.data.resize(kMaxLogChunkBytes);
  EXPECT_TRUE(Decode(Encode(1, c)).ok());

  Submit s;
  s.tasks.resize(kMaxSubmitBatch + 1);
  auto sm = Decode(Encode(1, s));
  ASSERT_FALSE(sm.ok());
  EXPECT_NE(sm.status().message().find("limit"), std::string::npos);
}

TEST(ProtocolTest, HugeDeclaredContainerDoesNotAllocate) {
  // An array header claiming 2^32-1 elements followed by nothing.
  std::string frame = "\x94\x01\x34\x01\xdd\xff\xff\xff\xff";
  EXPECT_FALSE(Decode(frame).ok());
  // Deep nesting beyond the depth limit.
  std::string deep(100, '\x91');
  deep += '\x01';
  EXPECT_FALSE(Decode(deep).ok());
}

TEST(ProtocolTest, RandomGarbageNeverCrashes) {
  std::mt19937_64 rng(1234);  // fixed seed: a failure is reproducible
  std::string valid = Encode(7, Submit{{TaskSpec{}}});
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string f;
    if (i % 2 == 0) {
      f.resize(rng() % 64);
      for (char& ch : f) ch = static_cast<char>(rng());
    } else {
      f = valid;  // bit flips in a valid frame
      for (int k = 0; k < 3; ++k) f[rng() % f.size()] ^= static_cast<char>(1u << (rng() % 8));
    }
    auto m = Decode(f);
    if (m.ok()) {
      ++accepted;
      (void)m->As<Submit>();  // must not crash either
    }
  }
  // Most random byte strings are not valid frames; the point is that none crashed.
  EXPECT_LT(accepted, 20000);
}

}  // namespace
}  // namespace ritsu
