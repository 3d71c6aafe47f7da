// ritsu-engine as users and the parity harness run it: real process, real files, exit codes.
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

const std::string kEngine = std::string(RITSU_BINARY_DIR) + "/engine/app/ritsu-engine";
const std::string kTokenizerDir = std::string(RITSU_DATA_ROOT) + "/models/qwen3-tokenizer";

struct RunResult {
  int rc = -1;
  std::string out, err;
};

// Runs ritsu-engine with args (a shell-quoted string), capturing stdout and stderr.
RunResult Engine(const std::string& args, const fs::path& tmp) {
  const std::string out = (tmp / "stdout").string(), err = (tmp / "stderr").string();
  const std::string cmd = kEngine + " " + args + " >" + out + " 2>" + err;
  RunResult r;
  const int status = std::system(cmd.c_str());
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream o(out), e(err);
  std::stringstream so, se;
  so << o.rdbuf();
  se << e.rdbuf();
  r.out = so.str();
  r.err = se.str();
  return r;
}

class EngineCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::random_device rd;
    tmp_ = new fs::path(fs::temp_directory_path() / ("ritsu_engine_cli_" + std::to_string(rd())));
    fs::create_directories(*tmp_);
    // The tiny preset keeps the real 151,936-token vocabulary (embedding 151936 x 64).
    RunResult r = Engine("make-model --arch qwen3 --preset tiny --seed 7 --out " + (*tmp_ / "m").string() +
                       " --tokenizer-from " + kTokenizerDir,
                   *tmp_);
    ASSERT_EQ(r.rc, 0) << r.err;
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(*tmp_, ec);
    delete tmp_;
  }
  static std::string M() { return (*tmp_ / "m").string(); }
  static fs::path* tmp_;
};
fs::path* EngineCli::tmp_ = nullptr;

TEST_F(EngineCli, MakeModelWritesACompleteHfDirectory) {
  for (const char* f : {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
                        "tokenizer_config.json", "LICENSE"}) {
    EXPECT_TRUE(fs::exists(fs::path(M()) / f)) << f;
  }
  std::ifstream in(fs::path(M()) / "config.json");
  auto j = nlohmann::json::parse(in);
  EXPECT_EQ(j["architectures"][0], "Qwen3ForCausalLM");
  EXPECT_EQ(j["vocab_size"], 151936);
  EXPECT_EQ(j["torch_dtype"], "bfloat16");
  RunResult r = Engine("inspect --model " + M(), *tmp_);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("model.layers.1.self_attn.k_norm.weight"));
  EXPECT_THAT(r.out, HasSubstr("24 tensors"));
}

TEST_F(EngineCli, ShardedMakeModelLoads) {
  const std::string dir = (*tmp_ / "sharded").string();
  RunResult r = Engine("make-model --arch qwen2 --preset custom --vocab 8192 --hidden 128 --heads 4 --kv-heads 2 "
                 "--intermediate 256 --layers 3 --seed 1 --no-tokenizer --shard-size-mb 1 --out " + dir, *tmp_);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(fs::exists(fs::path(dir) / "model.safetensors.index.json"));
  std::ofstream(*tmp_ / "ids.jsonl") << "[1, 2, 3]\n[4, 5]\n";
  r = Engine("generate --model " + dir + " --prompts " + (*tmp_ / "ids.jsonl").string() + " --max-new-tokens 3 --ignore-eos", *tmp_);
  ASSERT_EQ(r.rc, 0) << r.err;
}

TEST_F(EngineCli, GenerateStreamsTextAndReportsThroughputAndMemory) {
  RunResult r = Engine("generate --model " + M() + " --prompt '日本国憲法第九条' --chat --max-new-tokens 5", *tmp_);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("tok/s"));
  EXPECT_THAT(r.err, HasSubstr("peak memory"));
}

TEST_F(EngineCli, BatchedPromptsFileGivesOneJsonLinePerPromptIndependentOfBatchSize) {
  std::ofstream(*tmp_ / "p.jsonl") << "\"hello\"\n[9707, 11, 1879]\n{\"prompt\": \"第一条\"}\n{\"ids\": [785]}\n";
  std::vector<std::string> outs;
  for (const char* batch : {"1", "4"}) {
    RunResult r = Engine("generate --model " + M() + " --prompts " + (*tmp_ / "p.jsonl").string() +
                       " --max-new-tokens 6 --ignore-eos --max-batch " + batch,
                   *tmp_);
    ASSERT_EQ(r.rc, 0) << r.err;
    std::istringstream lines(r.out);
    std::string line;
    int n = 0;
    while (std::getline(lines, line)) {
      auto j = nlohmann::json::parse(line);
      EXPECT_EQ(j["index"], n);
      EXPECT_EQ(j["token_ids"].size(), 6u);
      EXPECT_EQ(j["finish_reason"], "length");
      EXPECT_TRUE(j.contains("text"));
      ++n;
    }
    EXPECT_EQ(n, 4);
    outs.push_back(r.out);
  }
  EXPECT_EQ(outs[0], outs[1]);
}

TEST_F(EngineCli, LogitsWritesNpy) {
  std::ofstream(*tmp_ / "l.jsonl") << "[1, 2, 3]\n[4, 5]\n";
  const std::string npy = (*tmp_ / "l.npy").string();
  RunResult r = Engine("logits --model " + M() + " --prompts " + (*tmp_ / "l.jsonl").string() + " --all-positions --out " + npy, *tmp_);
  ASSERT_EQ(r.rc, 0) << r.err;
  std::ifstream in(npy, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  ASSERT_GT(bytes.size(), 128u);
  EXPECT_EQ(bytes.substr(0, 6), "\x93NUMPY");
  uint16_t hlen;
  std::memcpy(&hlen, bytes.data() + 8, 2);
  EXPECT_EQ((10 + hlen) % 64, 0);
  EXPECT_THAT(bytes.substr(10, hlen), HasSubstr("'shape': (5, 151936)"));
  EXPECT_EQ(bytes.size(), 10u + hlen + 5u * 151936u * 4u);
}

TEST_F(EngineCli, BadInputIsAClearErrorWithExitCode2) {
  RunResult r = Engine("generate --model " + M() + " --prompt hi --max-new-tokenz 3", *tmp_);
  EXPECT_EQ(r.rc, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown flag --max-new-tokenz"));
  r = Engine("generate --model /nonexistent --prompt hi", *tmp_);
  EXPECT_EQ(r.rc, 2);
  EXPECT_THAT(r.err, HasSubstr("/nonexistent/config.json"));
  r = Engine("generat --model x", *tmp_);
  EXPECT_EQ(r.rc, 2);
  EXPECT_THAT(r.err, HasSubstr("did you mean 'generate'"));
  r = Engine("make-model --arch llama --preset tiny --out x", *tmp_);
  EXPECT_EQ(r.rc, 2);
  EXPECT_THAT(r.err, HasSubstr("--arch llama"));
  r = Engine("make-model --arch qwen3 --preset 70b --out x", *tmp_);
  EXPECT_EQ(r.rc, 2);
  EXPECT_THAT(r.err, HasSubstr("--preset 70b"));
  std::ofstream(*tmp_ / "bad.jsonl") << "[1, 2]\n{\"text\": 3}\n";
  r = Engine("generate --model " + M() + " --prompts " + (*tmp_ / "bad.jsonl").string(), *tmp_);
  EXPECT_EQ(r.rc, 2);
  EXPECT_THAT(r.err, HasSubstr("bad.jsonl:2"));
}

TEST_F(EngineCli, PromptLongerThanContextIsRefused) {
  const std::string dir = (*tmp_ / "short").string();
  RunResult r = Engine("make-model --arch qwen3 --preset tiny --vocab 256 --max-position 16 --seed 2 --no-tokenizer --out " + dir, *tmp_);
  ASSERT_EQ(r.rc, 0) << r.err;
  std::string ids = "[";
  for (int i = 0; i < 20; ++i) ids += std::to_string(i) + (i < 19 ? ", " : "]\n");
  std::ofstream(*tmp_ / "long.jsonl") << ids;
  r = Engine("generate --model " + dir + " --prompts " + (*tmp_ / "long.jsonl").string(), *tmp_);
  EXPECT_EQ(r.rc, 2);
  EXPECT_THAT(r.err, HasSubstr("prompt 0 has 20 tokens, more than the model context of 16"));
}

TEST_F(EngineCli, TruncatedCheckpointNamesTheTensor) {
  const std::string dir = (*tmp_ / "trunc").string();
  RunResult r = Engine("make-model --arch qwen2 --preset tiny --vocab 256 --seed 3 --no-tokenizer --out " + dir, *tmp_);
  ASSERT_EQ(r.rc, 0) << r.err;
  const fs::path st = fs::path(dir) / "model.safetensors";
  fs::resize_file(st, fs::file_size(st) - 100);
  std::ofstream(*tmp_ / "t.jsonl") << "[1, 2]\n";
  r = Engine("generate --model " + dir + " --prompts " + (*tmp_ / "t.jsonl").string(), *tmp_);
  EXPECT_EQ(r.rc, 2);
  EXPECT_THAT(r.err, HasSubstr("model.safetensors: tensor"));
  EXPECT_THAT(r.err, HasSubstr("truncated"));
}

}  // namespace
