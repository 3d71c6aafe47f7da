// The merge / gguf-inspect command lines end to end on a tiny model: seed-script flag
// spellings, GGUF + Modelfile outputs, `ollama create` run through a fake ollama on PATH
// (success, failure with its stderr reported, absence with the command printed), metrics
// file, and usage errors (exit 2) for missing flags and unsupported GGUF types.
#include "engine/merge/merge_cli.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/merge/gguf_reader.h"
#include "engine/merge/tests/tiny_model.h"

namespace ritsu::merge {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::TempDir;

struct CliRun {
  int rc;
  std::string out, err;
};

CliRun Call(int (*main_fn)(int, char**), std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  const int rc = main_fn(static_cast<int>(argv.size()), argv.data());
  CliRun r{rc, ::testing::internal::GetCapturedStdout(), ::testing::internal::GetCapturedStderr()};
  return r;
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Sets PATH (and RITSU_METRICS_FILE) for one test and restores them afterwards.
class EnvGuard {
 public:
  EnvGuard() {
    const char* p = std::getenv("PATH");
    path_ = p ? p : "";
  }
  ~EnvGuard() {
    setenv("PATH", path_.c_str(), 1);
    unsetenv("RITSU_METRICS_FILE");
  }

 private:
  std::string path_;
};

void WriteScript(const std::string& path, const std::string& body) {
  std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
  chmod(path.c_str(), 0755);
}

class MergeCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto config = testing::TinyQwen3Config();
    testing::WriteTinyModel(tmp_ / "base", config, engine::DType::kBF16, 4);
    ASSERT_TRUE(testing::MakeAdapter(config, 8).Save(tmp_ / "lora").ok());
    fs::create_directories(tmp_ / "bin");
  }
  TempDir tmp_;
  EnvGuard env_;
};

TEST_F(MergeCliTest, SeedSpellingsGgufOllamaAndMetrics) {
  WriteScript(tmp_ / "bin/ollama", "echo \"$@\" > \"$(dirname \"$0\")/ollama-args\"");
  setenv("PATH", (tmp_.path() + "/bin:/usr/bin:/bin").c_str(), 1);
  setenv("RITSU_METRICS_FILE", (tmp_ / "metrics.json").c_str(), 1);
  CliRun r = Call(MergeMain, {"merge", "--base-model", tmp_ / "base", "--lora-path", tmp_ / "lora", "--output-dir",
                           tmp_ / "out", "--gguf", "Q4_K_M", "--ollama-name", "law-ft", "--threads", "2"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("merged 12 LoRA modules"));
  const std::string modelfile = tmp_ / "out/Modelfile";
  EXPECT_EQ(ReadText(tmp_ / "bin/ollama-args"), "create law-ft -f " + modelfile + "\n");
  const std::string mf = ReadText(modelfile);
  EXPECT_THAT(mf, HasSubstr("FROM ./model-q4_k_m.gguf\n"));
  EXPECT_THAT(mf, HasSubstr("TEMPLATE \"\"\""));
  EXPECT_THAT(mf, HasSubstr("<|im_start|>assistant"));
  EXPECT_THAT(mf, HasSubstr("PARAMETER stop \"<|im_end|>\"\n"));
  EXPECT_THAT(mf, HasSubstr("PARAMETER stop \"<|endoftext|>\"\n"));
  // Go template actions must balance: every if/range is closed by an end.
  size_t opens = 0, ends = 0;
  for (const char* kw : {"{{- if ", "{{ if ", "{{- range ", "{{ range "}) {
    for (size_t p = mf.find(kw); p != std::string::npos; p = mf.find(kw, p + 1)) ++opens;
  }
  for (const char* kw : {"{{- end }}", "{{ end }}"}) {
    for (size_t p = mf.find(kw); p != std::string::npos; p = mf.find(kw, p + 1)) ++ends;
  }
  EXPECT_EQ(opens, ends);
  auto g = GgufFile::Open(tmp_ / "out/model-q4_k_m.gguf");
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->Find("general.name")->s, "law-ft");
  const auto metrics = nlohmann::json::parse(ReadText(tmp_ / "metrics.json"));
  EXPECT_EQ(metrics["gguf_bytes"].get<uint64_t>(), fs::file_size(tmp_ / "out/model-q4_k_m.gguf"));
  EXPECT_EQ(metrics["lora_modules_merged"].get<int>(), 12);
  EXPECT_TRUE(metrics["ollama_registered"].get<bool>());
  EXPECT_LE(metrics["gguf_max_error_over_bound"].get<double>(), 1.0);

  // gguf-inspect prints the table and verifies every tensor against the merged directory.
  CliRun ins = Call(GgufInspectMain, {"gguf-inspect", tmp_ / "out/model-q4_k_m.gguf", "--verify-against", tmp_ / "out"});
  ASSERT_EQ(ins.rc, 0) << ins.err;
  EXPECT_THAT(ins.out, HasSubstr("GGUF v3"));
  EXPECT_THAT(ins.out, HasSubstr("qwen3.attention.key_length"));
  EXPECT_THAT(ins.out, HasSubstr("blk.3.ffn_down.weight"));
  EXPECT_THAT(ins.out, HasSubstr("verified 46 tensors"));
  // ... and fails against the unmerged base: the LoRA changed q/v/down.
  CliRun bad = Call(GgufInspectMain, {"gguf-inspect", tmp_ / "out/model-q4_k_m.gguf", "--verify-against", tmp_ / "base"});
  EXPECT_EQ(bad.rc, 1);
  EXPECT_THAT(bad.err, HasSubstr("decodes to"));
}

TEST_F(MergeCliTest, OllamaFailureReportsItsStderr) {
  WriteScript(tmp_ / "bin/ollama", "echo 'Error: could not connect to ollama app, is it running?' >&2\nexit 1");
  setenv("PATH", (tmp_.path() + "/bin:/usr/bin:/bin").c_str(), 1);
  CliRun r = Call(MergeMain, {"merge", "--base", tmp_ / "base", "--lora", tmp_ / "lora", "--output", tmp_ / "out",
                           "--ollama-name", "law-ft"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_THAT(r.err, HasSubstr("could not connect to ollama app"));
  EXPECT_THAT(r.err, HasSubstr("exit status 1"));
  EXPECT_TRUE(fs::exists(tmp_ / "out/model-q4_k_m.gguf"));  // --ollama-name implies q4_k_m
}

TEST_F(MergeCliTest, WithoutOllamaPrintsTheCommand) {
  setenv("PATH", (tmp_ / "bin").c_str(), 1);  // no ollama there
  CliRun r = Call(MergeMain, {"merge", "--base", tmp_ / "base", "--lora", tmp_ / "lora", "-o", tmp_ / "out",
                           "--gguf", "q8_0", "--ollama-name", "law-ft"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("ollama create law-ft -f " + (tmp_ / "out/Modelfile")));
  EXPECT_THAT(ReadText(tmp_ / "out/Modelfile"), HasSubstr("FROM ./model-q8_0.gguf"));
}

TEST_F(MergeCliTest, UsageErrorsExitTwo) {
  CliRun r = Call(MergeMain, {"merge", "--base", tmp_ / "base", "--lora", tmp_ / "lora", "--output", tmp_ / "out",
                           "--gguf", "q3_k_s"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_THAT(r.err, HasSubstr("--gguf q3_k_s: unsupported GGUF type"));
  r = Call(MergeMain, {"merge", "--lora", tmp_ / "lora", "--output", tmp_ / "out"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_THAT(r.err, HasSubstr("--base is required"));
  r = Call(MergeMain, {"merge", "--base", tmp_ / "base", "--bogus"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown flag --bogus"));
  r = Call(MergeMain, {"merge", "--base", tmp_ / "nowhere", "--lora", tmp_ / "lora", "--output", tmp_ / "out"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_THAT(r.err, HasSubstr("nowhere"));
  EXPECT_FALSE(fs::exists(tmp_ / "out"));
  r = Call(GgufInspectMain, {"gguf-inspect", tmp_ / "base/config.json"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_THAT(r.err, HasSubstr("config.json"));
}

TEST_F(MergeCliTest, ExistingOutputNeedsOverwrite) {
  fs::create_directories(tmp_ / "out");
  CliRun r = Call(MergeMain, {"merge", "--base", tmp_ / "base", "--lora", tmp_ / "lora", "--output", tmp_ / "out"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_THAT(r.err, HasSubstr("already exists; pass --overwrite"));
  r = Call(MergeMain, {"merge", "--base", tmp_ / "base", "--lora", tmp_ / "lora", "--output", tmp_ / "out",
                       "--overwrite"});
  EXPECT_EQ(r.rc, 0) << r.err;
}

}  // namespace
}  // namespace ritsu::merge
