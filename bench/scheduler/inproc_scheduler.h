// A real ritsud (RocksDB store with synced writes, ROUTER on loopback) inside the benchmark
// process, plus a tiny DEALER client, so the scheduler benchmarks need no other binary.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include <sys/resource.h>
#include <unistd.h>
#include <zmq.hpp>

#include "scheduler/broker.h"
#include "scheduler/core.h"
#include "scheduler/kv.h"
#include "scheduler/store.h"

namespace ritsu::bench {

inline double NowSec() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

inline long MaxRssMiB() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024;
}

[[noreturn]] inline void Die(const std::string& what, const Status& st) {
  std::fprintf(stderr, "bench: %s: %s\n", what.c_str(), st.ToString().c_str());
  std::exit(1);
}

class InProcScheduler {
 public:
  explicit InProcScheduler(const std::string& dir, sched::CoreOptions opts = {}) {
    auto kv = sched::OpenRocksKv(dir);
    if (!kv.ok()) Die("open " + dir, kv.status());
    kv_ = std::move(*kv);
    store_ = std::make_unique<sched::Store>(kv_.get());
    if (Status st = store_->Init(); !st.ok()) Die("init", st);
    core_ = std::make_unique<sched::Core>(store_.get(), &clock_, opts);
    if (Status st = core_->Load(); !st.ok()) Die("load", st);
    sched::BrokerOptions bo;
    bo.bind = "tcp://127.0.0.1:*";
    broker_ = std::make_unique<sched::Broker>(core_.get(), &clock_, bo);
    if (Status st = broker_->Bind(); !st.ok()) Die("bind", st);
    thread_ = std::thread([this] {
      Status st = broker_->Run(&stop_);
      if (!st.ok()) Die("broker", st);
    });
  }
  ~InProcScheduler() {
    stop_ = true;
    thread_.join();
  }
  std::string endpoint() const { return broker_->endpoint(); }
  const sched::BrokerStats& stats() const { return broker_->stats(); }

 private:
  sched::SystemClock clock_;
  std::unique_ptr<sched::Kv> kv_;
  std::unique_ptr<sched::Store> store_;
  std::unique_ptr<sched::Core> core_;
  std::unique_ptr<sched::Broker> broker_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// One DEALER connection; Call() sends a request and waits (up to 30 s) for its reply.
class Conn {
 public:
  Conn(zmq::context_t& ctx, const std::string& endpoint) : s_(ctx, zmq::socket_type::dealer) {
    s_.set(zmq::sockopt::linger, 0);
    s_.connect(endpoint);
  }
  void Send(const std::string& frame) { s_.send(zmq::buffer(frame), zmq::send_flags::none); }
  Message Recv(int timeout_ms = 30000) {
    zmq::pollitem_t items[] = {{s_.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 1, std::chrono::milliseconds(timeout_ms));
    if (!(items[0].revents & ZMQ_POLLIN)) Die("recv", Status::Unavailable("no reply within the timeout"));
    zmq::message_t m;
    (void)s_.recv(m);
    auto d = Decode(std::string_view(static_cast<const char*>(m.data()), m.size()));
    if (!d.ok()) Die("decode", d.status());
    if (d->type == MsgType::kError) Die("reply", ErrorToStatus(*d->As<ErrorReply>()));
    return std::move(*d);
  }
  template <typename Rep, typename Req>
  Rep Call(const Req& req) {
    Send(Encode(++id_, req));
    auto r = Recv().As<Rep>();
    if (!r.ok()) Die("reply", r.status());
    return std::move(*r);
  }
  zmq::socket_t& socket() { return s_; }

 private:
  zmq::socket_t s_;
  uint64_t id_ = 0;
};

// A fresh directory under /tmp removed at exit (unless --keep).
class TempDir {
 public:
  explicit TempDir(const std::string& tag)
      : path_((std::filesystem::temp_directory_path() / ("ritsu-bench-" + tag + "-" + std::to_string(getpid()))).string()) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { if (!keep) std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }
  bool keep = false;

 private:
  std::string path_;
};

inline TaskSpec NoopSpec(int i) {
  TaskSpec s;
  s.name = "noop-" + std::to_string(i);
  s.argv = {"true"};
  return s;
}

}  // namespace ritsu::bench
