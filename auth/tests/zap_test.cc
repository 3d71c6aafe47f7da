// The ZAP handler with real sockets: a CURVE ROUTER on loopback TCP (the scheduler's shape),
// DEALER clients with their own keys, and a TCP proxy that can flip a byte in flight.
//
// The test server does what the broker must do with every message: read the "User-Id"
// property, Authorize() it for the request type, answer "ok <name>" or "denied <reason>".
// "Cannot connect" is shown as "no reply within kNoReplyWait": a CURVE client whose handshake
// is refused sees nothing at the socket level (libzmq retries quietly), and the server's
// application never receives its message, which is checked too.
#include "auth/zap_handler.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "auth/keys.h"
#include "auth/tests/test_util.h"

namespace ritsu::auth {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using testing::TempDir;
using namespace std::chrono_literals;

// Long enough for a CURVE handshake on a loaded 2-core CI machine (it takes ~1 ms idle), short
// enough to keep the suite fast; a refused client is asserted silent for this long.
constexpr int kNoReplyWaitMs = 1500;
// An allowed client must get its answer well within this.
constexpr int kReplyWaitMs = 10000;

// The scheduler stand-in: ROUTER + ZAP on one context, answering on its own thread.
class TestServer {
 public:
  TestServer(const std::string& allowlist_path, const KeyPair& keys)
      : ctx_(zmq_ctx_new()), zap_(ctx_, allowlist_path), keys_(keys) {}
  ~TestServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    zap_.Stop();
    zmq_ctx_term(ctx_);
  }

  Status Start() {
    RITSU_RETURN_IF_ERROR(zap_.Start());
    router_ = zmq_socket(ctx_, ZMQ_ROUTER);
    int linger = 0;
    zmq_setsockopt(router_, ZMQ_LINGER, &linger, sizeof(linger));
    RITSU_RETURN_IF_ERROR(ConfigureCurveServer(router_, keys_, zap_));
    if (zmq_bind(router_, "tcp://127.0.0.1:*") != 0) return Status::Internal("bind");
    char endpoint[256];
    size_t len = sizeof(endpoint);
    zmq_getsockopt(router_, ZMQ_LAST_ENDPOINT, endpoint, &len);
    endpoint_ = endpoint;
    thread_ = std::thread([this] { Serve(); });
    return Status::Ok();
  }

  const std::string& endpoint() const { return endpoint_; }
  int port() const { return std::stoi(endpoint_.substr(endpoint_.rfind(':') + 1)); }
  ZapHandler& zap() { return zap_; }
  void* context() { return ctx_; }
  std::vector<std::string> received() {
    std::lock_guard<std::mutex> lock(mu_);
    return received_;
  }

 private:
  void Serve() {
    while (!stop_) {
      zmq_pollitem_t item{router_, 0, ZMQ_POLLIN, 0};
      if (zmq_poll(&item, 1, 50) <= 0) continue;
      zmq_msg_t id, body;
      zmq_msg_init(&id);
      zmq_msg_init(&body);
      zmq_msg_recv(&id, router_, 0);
      zmq_msg_recv(&body, router_, 0);
      std::string request(static_cast<char*>(zmq_msg_data(&body)), zmq_msg_size(&body));
      // The broker's per-message check: User-Id is the ZAP-approved key of this connection.
      const char* user_id = zmq_msg_gets(&body, "User-Id");
      Status st = zap_.Authorize(user_id, request);
      std::string answer;
      if (st.ok()) {
        answer = "ok " + zap_.Lookup(user_id)->name;
      } else {
        answer = "denied " + st.ToString();
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        received_.push_back(request);
      }
      zmq_msg_send(&id, router_, ZMQ_SNDMORE);
      zmq_send(router_, answer.data(), answer.size(), 0);
      zmq_msg_close(&body);
    }
    zmq_close(router_);
  }

  void* ctx_;
  ZapHandler zap_;
  KeyPair keys_;
  void* router_ = nullptr;
  std::string endpoint_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<std::string> received_;
};

// A DEALER client with its own context (a separate process in real life).
class TestClient {
 public:
  TestClient(const std::string& endpoint, const std::string& server_public, const KeyPair& own)
      : ctx_(zmq_ctx_new()), socket_(zmq_socket(ctx_, ZMQ_DEALER)) {
    int linger = 0;
    zmq_setsockopt(socket_, ZMQ_LINGER, &linger, sizeof(linger));
    EXPECT_TRUE(ConfigureCurveClient(socket_, server_public, own).ok());
    zmq_connect(socket_, endpoint.c_str());
  }
  ~TestClient() {
    zmq_close(socket_);
    zmq_ctx_term(ctx_);
  }
  // The reply to `request`, or "" when none came within `wait_ms`.
  std::string Ask(const std::string& request, int wait_ms) {
    zmq_send(socket_, request.data(), request.size(), ZMQ_DONTWAIT);
    zmq_pollitem_t item{socket_, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&item, 1, wait_ms) <= 0) return "";
    char buf[1024];
    int n = zmq_recv(socket_, buf, sizeof(buf), 0);
    return n < 0 ? "" : std::string(buf, std::min<size_t>(n, sizeof(buf)));
  }

 private:
  void* ctx_;
  void* socket_;
};

struct Fixture {
  TempDir dir;
  KeyPair server = *GenerateKeyPair();
  KeyPair worker = *GenerateKeyPair();
  KeyPair alice = *GenerateKeyPair();   // submit
  KeyPair viewer = *GenerateKeyPair();  // read
  KeyPair stranger = *GenerateKeyPair();
  std::string allowlist;

  explicit Fixture(bool empty = false) {
    Allowlist list;
    if (!empty) {
      EXPECT_TRUE(list.Add({worker.public_z85, Role::kWorker, "heart01-mig0"}).ok());
      EXPECT_TRUE(list.Add({alice.public_z85, Role::kSubmit, "alice"}).ok());
      EXPECT_TRUE(list.Add({viewer.public_z85, Role::kRead, "viewer"}).ok());
    }
    allowlist = dir.File("allowlist");
    EXPECT_TRUE(SaveAllowlist(allowlist, list).ok());
  }
};

TEST(ZapHandler, AllowedKeysGetAnswersWithTheirNames) {
  Fixture f;
  TestServer server(f.allowlist, f.server);
  ASSERT_TRUE(server.Start().ok());
  TestClient worker(server.endpoint(), f.server.public_z85, f.worker);
  EXPECT_EQ(worker.Ask("heartbeat", kReplyWaitMs), "ok heart01-mig0");
  TestClient alice(server.endpoint(), f.server.public_z85, f.alice);
  EXPECT_EQ(alice.Ask("submit", kReplyWaitMs), "ok alice");
  EXPECT_GE(server.zap().handshakes_accepted(), 2u);
}

TEST(ZapHandler, UnknownKeyCannotConnect) {
  Fixture f;
  TestServer server(f.allowlist, f.server);
  ASSERT_TRUE(server.Start().ok());
  TestClient stranger(server.endpoint(), f.server.public_z85, f.stranger);
  EXPECT_EQ(stranger.Ask("status", kNoReplyWaitMs), "");
  EXPECT_TRUE(server.received().empty());
  EXPECT_GE(server.zap().handshakes_refused(), 1u);
}

TEST(ZapHandler, ClientWithWrongServerKeyCannotConnect) {
  Fixture f;
  TestServer server(f.allowlist, f.server);
  ASSERT_TRUE(server.Start().ok());
  KeyPair impostor_server = *GenerateKeyPair();
  TestClient alice(server.endpoint(), impostor_server.public_z85, f.alice);
  EXPECT_EQ(alice.Ask("status", kNoReplyWaitMs), "");
  EXPECT_TRUE(server.received().empty());
}

TEST(ZapHandler, EmptyAllowlistLetsNobodyIn) {
  Fixture f(/*empty=*/true);
  TestServer server(f.allowlist, f.server);
  ASSERT_TRUE(server.Start().ok());
  TestClient alice(server.endpoint(), f.server.public_z85, f.alice);
  EXPECT_EQ(alice.Ask("status", kNoReplyWaitMs), "");
  EXPECT_TRUE(server.received().empty());
}

TEST(ZapHandler, PlainClientWithoutCurveCannotConnect) {
  Fixture f;
  TestServer server(f.allowlist, f.server);
  ASSERT_TRUE(server.Start().ok());
  void* ctx = zmq_ctx_new();
  void* s = zmq_socket(ctx, ZMQ_DEALER);
  int linger = 0;
  zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
  zmq_connect(s, server.endpoint().c_str());
  zmq_send(s, "status", 6, 0);
  zmq_pollitem_t item{s, 0, ZMQ_POLLIN, 0};
  EXPECT_EQ(zmq_poll(&item, 1, kNoReplyWaitMs), 0);
  zmq_close(s);
  zmq_ctx_term(ctx);
  EXPECT_TRUE(server.received().empty());
}

TEST(ZapHandler, ReadKeyIsRefusedSubmitWithAClearPermissionError) {
  Fixture f;
  TestServer server(f.allowlist, f.server);
  ASSERT_TRUE(server.Start().ok());
  TestClient viewer(server.endpoint(), f.server.public_z85, f.viewer);
  EXPECT_EQ(viewer.Ask("status", kReplyWaitMs), "ok viewer");
  std::string answer = viewer.Ask("submit", kReplyWaitMs);
  EXPECT_THAT(answer, StartsWith("denied permission denied"));
  EXPECT_THAT(answer, HasSubstr("'viewer' has role read; 'submit' needs role submit"));
  // A worker key cannot submit either, and a person's key cannot pose as a worker.
  TestClient worker(server.endpoint(), f.server.public_z85, f.worker);
  EXPECT_THAT(worker.Ask("submit", kReplyWaitMs), StartsWith("denied"));
  TestClient alice(server.endpoint(), f.server.public_z85, f.alice);
  EXPECT_THAT(alice.Ask("heartbeat", kReplyWaitMs), StartsWith("denied"));
}

TEST(ZapHandler, RevokedKeyIsCutOffAfterReloadWithoutRestart) {
  Fixture f;
  TestServer server(f.allowlist, f.server);
  ASSERT_TRUE(server.Start().ok());
  TestClient alice(server.endpoint(), f.server.public_z85, f.alice);
  ASSERT_EQ(alice.Ask("status", kReplyWaitMs), "ok alice");

  auto list = Allowlist::Load(f.allowlist);
  ASSERT_TRUE(list->Revoke("alice").ok());
  ASSERT_TRUE(SaveAllowlist(f.allowlist, *list).ok());
  ASSERT_TRUE(server.zap().Reload().ok());

  // The open connection is refused per message...
  EXPECT_THAT(alice.Ask("status", kReplyWaitMs), HasSubstr("no longer) in the scheduler's allowlist"));
  // ...and a new connection does not get through the handshake.
  TestClient alice_again(server.endpoint(), f.server.public_z85, f.alice);
  EXPECT_EQ(alice_again.Ask("status", kNoReplyWaitMs), "");
  // Others are unaffected.
  TestClient viewer(server.endpoint(), f.server.public_z85, f.viewer);
  EXPECT_EQ(viewer.Ask("status", kReplyWaitMs), "ok viewer");
}

TEST(ZapHandler, AddedKeyGetsInAfterSighupReload) {
  Fixture f;
  TestServer server(f.allowlist, f.server);
  ASSERT_TRUE(server.Start().ok());
  ASSERT_TRUE(ZapHandler::InstallSighupReload().ok());
  auto list = Allowlist::Load(f.allowlist);
  ASSERT_TRUE(list->Add({f.stranger.public_z85, Role::kRead, "newcomer"}).ok());
  ASSERT_TRUE(SaveAllowlist(f.allowlist, *list).ok());
  ASSERT_EQ(::raise(SIGHUP), 0);
  // The handler thread reloads within its poll interval (100 ms); allow for a slow machine.
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!server.zap().Lookup(f.stranger.public_z85) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(server.zap().last_reload_error(), "");
  TestClient newcomer(server.endpoint(), f.server.public_z85, f.stranger);
  EXPECT_EQ(newcomer.Ask("status", kReplyWaitMs), "ok newcomer");
}

TEST(ZapHandler, RevocationByFileEditAloneCutsOffTheOpenConnection) {
  // What `ritsu keys revoke` does: rename a new allowlist into place, no signal, no call.
  Fixture f;
  TestServer server(f.allowlist, f.server);
  ASSERT_TRUE(server.Start().ok());
  TestClient worker(server.endpoint(), f.server.public_z85, f.worker);
  ASSERT_EQ(worker.Ask("heartbeat", kReplyWaitMs), "ok heart01-mig0");
  auto list = Allowlist::Load(f.allowlist);
  ASSERT_TRUE(list->Revoke("heart01-mig0").ok());
  ASSERT_TRUE(SaveAllowlist(f.allowlist, *list).ok());
  // The handler looks at the file every 500 ms; allow for a slow machine.
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (server.zap().Lookup(f.worker.public_z85) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_THAT(worker.Ask("heartbeat", kReplyWaitMs), StartsWith("denied"));
}

TEST(ZapHandler, BrokenAllowlistEditKeepsTheOldListInForce) {
  Fixture f;
  TestServer server(f.allowlist, f.server);
  ASSERT_TRUE(server.Start().ok());
  { std::ofstream(f.allowlist, std::ios::app) << "garbage line\n"; }
  Status st = server.zap().Reload();
  EXPECT_FALSE(st.ok());
  EXPECT_THAT(st.message(), HasSubstr(f.allowlist));
  TestClient alice(server.endpoint(), f.server.public_z85, f.alice);
  EXPECT_EQ(alice.Ask("status", kReplyWaitMs), "ok alice");
}

TEST(ZapHandler, WorldWritableAllowlistIsRefusedOnReloadAndTheOldListStays) {
  // Any local user could add a key to a world-writable list and run commands as the worker's
  // user: the reload is refused, naming the file and its mode, and the last good list serves.
  Fixture f;
  TestServer server(f.allowlist, f.server);
  ASSERT_TRUE(server.Start().ok());
  auto list = Allowlist::Load(f.allowlist);
  ASSERT_TRUE(list->Add({f.stranger.public_z85, Role::kSubmit, "intruder"}).ok());
  ASSERT_TRUE(SaveAllowlist(f.allowlist, *list).ok());
  ASSERT_EQ(::chmod(f.allowlist.c_str(), 0666), 0);
  Status st = server.zap().Reload();
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.message(), HasSubstr(f.allowlist));
  EXPECT_THAT(st.message(), HasSubstr("0666"));
  EXPECT_FALSE(server.zap().Lookup(f.stranger.public_z85).has_value());
  TestClient intruder(server.endpoint(), f.server.public_z85, f.stranger);
  EXPECT_EQ(intruder.Ask("status", kNoReplyWaitMs), "");
  TestClient alice(server.endpoint(), f.server.public_z85, f.alice);
  EXPECT_EQ(alice.Ask("status", kReplyWaitMs), "ok alice");
}

TEST(ZapHandler, CurveServerCannotBeConfiguredBeforeTheHandlerIsBound) {
  Fixture f;
  void* ctx = zmq_ctx_new();
  {
    ZapHandler zap(ctx, f.allowlist);
    void* router = zmq_socket(ctx, ZMQ_ROUTER);
    Status st = ConfigureCurveServer(router, f.server, zap);
    EXPECT_EQ(st.code(), Status::Code::kFailedPrecondition);
    ASSERT_TRUE(zap.Start().ok());
    EXPECT_TRUE(ConfigureCurveServer(router, f.server, zap).ok());
    // A second handler on the same context cannot bind: one handler per context.
    ZapHandler second(ctx, f.allowlist);
    EXPECT_FALSE(second.Start().ok());
    zmq_close(router);
  }
  zmq_ctx_term(ctx);
}

TEST(ZapHandler, MalformedAllowlistFailsStart) {
  Fixture f;
  std::string bad = f.dir.Write("bad-allowlist", f.alice.public_z85 + " superuser alice\n");
  void* ctx = zmq_ctx_new();
  {
    ZapHandler zap(ctx, bad);
    Status st = zap.Start();
    EXPECT_FALSE(st.ok());
    EXPECT_THAT(st.message(), HasSubstr("bad-allowlist line 1"));
    EXPECT_FALSE(zap.running());
  }
  zmq_ctx_term(ctx);
}

// A TCP relay between the client and the server that flips one byte of the next client->server
// chunk when asked. After the CURVE handshake every byte is inside an authenticated box, so the
// server must drop the connection rather than deliver anything.
class FlippingProxy {
 public:
  explicit FlippingProxy(int server_port) : server_port_(server_port) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(listen_fd_, 4);
    socklen_t len = sizeof(addr);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Run(); });
  }
  ~FlippingProxy() {
    stop_ = true;
    thread_.join();
    ::close(listen_fd_);
  }
  int port() const { return port_; }
  void FlipNextClientChunk() { flip_next_ = true; }
  bool flipped() const { return flipped_.load(); }
  // Connections the server side closed (it drops a connection whose box fails to open).
  int server_closes() const { return server_closes_.load(); }

 private:
  void Run() {
    int client = -1, server = -1;
    char buf[65536];
    while (!stop_) {
      std::vector<pollfd> fds{{listen_fd_, POLLIN, 0}};
      if (client >= 0) fds.push_back({client, POLLIN, 0});
      if (server >= 0) fds.push_back({server, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), 50) <= 0) continue;
      if (fds[0].revents & POLLIN) {
        int c = ::accept(listen_fd_, nullptr, nullptr);
        if (client >= 0) ::close(client);
        if (server >= 0) ::close(server);
        client = c;
        server = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = htons(server_port_);
        if (::connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
          ::close(server);
          ::close(client);
          client = server = -1;
        }
        continue;
      }
      for (size_t i = 1; i < fds.size(); ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        bool from_client = fds[i].fd == client;
        ssize_t n = ::read(fds[i].fd, buf, sizeof(buf));
        if (n <= 0) {
          if (!from_client) server_closes_.fetch_add(1);
          ::close(client);
          ::close(server);
          client = server = -1;
          break;
        }
        if (from_client && flip_next_.exchange(false)) {
          buf[n - 1] ^= 0x01;  // the last byte lies in the message's MAC-protected box
          flipped_ = true;
        }
        ssize_t ignored = ::write(from_client ? server : client, buf, static_cast<size_t>(n));
        (void)ignored;
      }
    }
    if (client >= 0) ::close(client);
    if (server >= 0) ::close(server);
  }

  int server_port_;
  int listen_fd_;
  int port_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> flip_next_{false};
  std::atomic<bool> flipped_{false};
  std::atomic<int> server_closes_{0};
};

TEST(ZapHandler, TamperedTrafficIsRejectedAndTheConnectionDropped) {
  Fixture f;
  TestServer server(f.allowlist, f.server);
  ASSERT_TRUE(server.Start().ok());
  FlippingProxy proxy(server.port());
  TestClient alice("tcp://127.0.0.1:" + std::to_string(proxy.port()), f.server.public_z85,
                   f.alice);
  // The handshake and one message pass through the proxy untouched.
  ASSERT_EQ(alice.Ask("status", kReplyWaitMs), "ok alice");

  proxy.FlipNextClientChunk();
  EXPECT_EQ(alice.Ask("cancel", kNoReplyWaitMs), "");
  EXPECT_TRUE(proxy.flipped());
  // The tampered message was never delivered to the application...
  std::vector<std::string> got = server.received();
  EXPECT_EQ(std::count(got.begin(), got.end(), "cancel"), 0);
  // ...and the server closed the connection it could no longer trust.
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (proxy.server_closes() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_GE(proxy.server_closes(), 1);
}

}  // namespace
}  // namespace ritsu::auth
