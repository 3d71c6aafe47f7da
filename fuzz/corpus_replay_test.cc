// Replays every committed corpus input (fuzz/corpus/<target>/: seeds, and inputs that once
// crashed a target, named crash-*) through the fuzz targets' entry points in the ordinary
// build. The libFuzzer build (scripts/fuzz) replays the same files under ASan/UBSan; this test
// keeps the crash regressions in CI where clang is absent. A target that crashes or traps on an
// input fails the whole binary, naming nothing; the SCOPED_TRACE below names the file.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

extern "C" int protocol_FuzzOne(const uint8_t*, size_t);
extern "C" int safetensors_FuzzOne(const uint8_t*, size_t);
extern "C" int gguf_FuzzOne(const uint8_t*, size_t);
extern "C" int adapter_config_FuzzOne(const uint8_t*, size_t);
extern "C" int sweep_FuzzOne(const uint8_t*, size_t);
extern "C" int train_jsonl_FuzzOne(const uint8_t*, size_t);

namespace {

namespace fs = std::filesystem;

int ReplayAll(const std::string& target, int (*one)(const uint8_t*, size_t)) {
  const fs::path dir = fs::path(RITSU_SOURCE_DIR) / "fuzz" / "corpus" / target;
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::ifstream in(e.path(), std::ios::binary);
    const std::string bytes{std::istreambuf_iterator<char>(in), {}};
    SCOPED_TRACE(e.path().string());
    EXPECT_EQ(one(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), 0);
    ++n;
  }
  return n;
}

TEST(FuzzCorpusReplay, Protocol) { EXPECT_GE(ReplayAll("protocol", protocol_FuzzOne), 5); }
TEST(FuzzCorpusReplay, Safetensors) { EXPECT_GE(ReplayAll("safetensors", safetensors_FuzzOne), 5); }
TEST(FuzzCorpusReplay, Gguf) { EXPECT_GE(ReplayAll("gguf", gguf_FuzzOne), 5); }
TEST(FuzzCorpusReplay, AdapterConfig) { EXPECT_GE(ReplayAll("adapter_config", adapter_config_FuzzOne), 5); }
TEST(FuzzCorpusReplay, Sweep) { EXPECT_GE(ReplayAll("sweep", sweep_FuzzOne), 3); }
TEST(FuzzCorpusReplay, TrainJsonl) { EXPECT_GE(ReplayAll("train_jsonl", train_jsonl_FuzzOne), 3); }

}  // namespace
