#include "auth/endpoint_security.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <zmq.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "auth/tests/test_util.h"

namespace ritsu::auth {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;

TEST(EndpointSecurity, LoopbackEndpoints) {
  for (const char* e : {"tcp://127.0.0.1:7070", "tcp://localhost:1", "tcp://[::1]:7070",
                        "ipc:///tmp/x", "inproc://a", "tcp://127.1.2.3:5"}) {
    EXPECT_TRUE(IsLoopbackEndpoint(e)) << e;
  }
  for (const char* e : {"tcp://0.0.0.0:7070", "tcp://*:7070", "tcp://192.168.1.5:7070",
                        "tcp://eth0:7070", "tcp://[::]:7070", "tcp://heart01:7070"}) {
    EXPECT_FALSE(IsLoopbackEndpoint(e)) << e;
  }
}

TEST(EndpointSecurity, SchedulerNeedsKeysOrAnExplicitInsecure) {
  void* ctx = zmq_ctx_new();
  std::string warning;
  auto none = ServerSecurity::Create(ctx, {"", "", false, "tcp://127.0.0.1:7070"}, &warning);
  ASSERT_FALSE(none.ok());
  EXPECT_THAT(none.status().message(), HasSubstr("--insecure"));
  EXPECT_THAT(none.status().message(), HasSubstr("--curve-secret-key and --allowlist are"));

  auto loop = ServerSecurity::Create(ctx, {"", "", true, "tcp://127.0.0.1:7070"}, &warning);
  ASSERT_TRUE(loop.ok());
  EXPECT_TRUE((*loop)->insecure());
  EXPECT_EQ(warning, "");
  EXPECT_TRUE((*loop)->Authorize("", "submit").ok());

  auto open = ServerSecurity::Create(ctx, {"", "", true, "tcp://0.0.0.0:7070"}, &warning);
  ASSERT_TRUE(open.ok());
  EXPECT_THAT(warning, HasSubstr("WARNING: --insecure on tcp://0.0.0.0:7070"));

  auto both = ServerSecurity::Create(ctx, {"k", "a", true, "tcp://127.0.0.1:1"}, &warning);
  EXPECT_FALSE(both.ok());
  zmq_ctx_term(ctx);
}

TEST(EndpointSecurity, SchedulerWithKeysStartsZapAndRefusesUnknownUsers) {
  TempDir dir;
  auto server = *GenerateKeyPair();
  ASSERT_TRUE(WriteKeyPair(dir.path(), "ritsud", server).ok());
  std::string allowlist = dir.Write("allowlist", "");
  void* ctx = zmq_ctx_new();
  {
    std::string warning;
    auto sec = ServerSecurity::Create(ctx, {dir.File("ritsud.key"), allowlist, false, "tcp://0.0.0.0:1"},
                                      &warning);
    ASSERT_TRUE(sec.ok()) << sec.status().ToString();
    EXPECT_FALSE((*sec)->insecure());
    EXPECT_EQ(warning, "");
    EXPECT_TRUE((*sec)->zap()->running());
    EXPECT_EQ((*sec)->Authorize("", "status").code(), Status::Code::kPermissionDenied);
    void* router = zmq_socket(ctx, ZMQ_ROUTER);
    EXPECT_TRUE((*sec)->ConfigureRouter(router).ok());
    zmq_close(router);
  }
  // A world-readable server key stops the scheduler, naming the file.
  ::chmod(dir.File("ritsud.key").c_str(), 0644);
  std::string warning;
  auto loose = ServerSecurity::Create(ctx, {dir.File("ritsud.key"), allowlist, false, "tcp://0.0.0.0:1"},
                                      &warning);
  ASSERT_FALSE(loose.ok());
  EXPECT_THAT(loose.status().message(), HasSubstr("ritsud.key has mode 0644"));
  zmq_ctx_term(ctx);
}

TEST(EndpointSecurity, ClientCurveFromFlagsOrEnvironment) {
  TempDir dir;
  ASSERT_TRUE(WriteKeyPair(dir.path(), "ritsud", *GenerateKeyPair()).ok());
  ASSERT_TRUE(WriteKeyPair(dir.path(), "me", *GenerateKeyPair()).ok());
  ::unsetenv("RITSU_SERVER_KEY");
  ::unsetenv("RITSU_KEY");
  auto plain = LoadClientCurve("", "");
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->has_value());

  auto flags = LoadClientCurve(dir.File("ritsud.pub"), dir.File("me.key"));
  ASSERT_TRUE(flags.ok()) << flags.status().ToString();
  ASSERT_TRUE(flags->has_value());
  EXPECT_EQ((*flags)->server_public_z85, *ReadPublicKeyFile(dir.File("ritsud.pub")));

  auto half = LoadClientCurve(dir.File("ritsud.pub"), "");
  ASSERT_FALSE(half.ok());
  EXPECT_THAT(half.status().message(), HasSubstr("only the server key was given"));

  ::setenv("RITSU_SERVER_KEY", dir.File("ritsud.pub").c_str(), 1);
  ::setenv("RITSU_KEY", dir.File("me.key").c_str(), 1);
  auto env = LoadClientCurve("", "");
  ::unsetenv("RITSU_SERVER_KEY");
  ::unsetenv("RITSU_KEY");
  ASSERT_TRUE(env.ok());
  EXPECT_TRUE(env->has_value());
}

}  // namespace
}  // namespace ritsu::auth
