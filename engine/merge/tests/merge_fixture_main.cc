// Writes the test fixtures to disk for scripts (parity/gguf_check.py, parity/llama_cpp_check.py):
//   ritsu_merge_fixture DIR [qwen3|qwen2] [TOKENIZER_DIR]
//     -> DIR/base (tiny model; with TOKENIZER_DIR the real Qwen vocabulary of 151936 ids and
//        that tokenizer, else the 300-token test tokenizer), DIR/lora (adapter)
//   ritsu_merge_fixture adapter BASE_DIR OUT_DIR
//     -> a rank-16 (alpha 32) adapter on all seven linears of BASE_DIR's config, B != 0
//   ritsu_merge_fixture logits MODEL_DIR OUT.f32 ID...
//     -> the engine's CPU-backend logits [n_ids, vocab] as raw little-endian float32
// and doubles as a stand-alone front end for the two subcommands until ritsu-engine links them:
//   ritsu_merge_fixture merge ... | gguf-inspect ...
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "engine/model/backend.h"
#include "engine/model/model.h"

#include "engine/merge/merge_cli.h"
#include "engine/merge/tests/tiny_model.h"

namespace {

int DumpLogits(const std::string& model_dir, const std::string& out_path, int n, char** ids) {
  std::vector<int32_t> tokens;
  for (int i = 0; i < n; ++i) tokens.push_back(std::atoi(ids[i]));
  auto backend = ritsu::engine::MakeCpuBackend();
  auto model = ritsu::engine::Model::Load(model_dir, *backend);
  if (!model.ok()) {
    std::fprintf(stderr, "ritsu_merge_fixture: %s\n", model.status().ToString().c_str());
    return 1;
  }
  auto cache = (*model)->NewKvCache(1, n);
  ritsu::engine::StepLayout step;
  step.segments = {{0, 0, n}};
  step.Finalize();
  std::vector<int64_t> rows;
  for (int i = 0; i < n; ++i) rows.push_back(i);
  auto logits = (*model)->Forward(tokens, step, cache, rows);
  if (!logits.ok()) {
    std::fprintf(stderr, "ritsu_merge_fixture: %s\n", logits.status().ToString().c_str());
    return 1;
  }
  std::vector<float> out(static_cast<size_t>(logits->numel()));
  backend->Download(*logits, out.data());
  std::ofstream(out_path, std::ios::binary).write(reinterpret_cast<const char*>(out.data()),
                                                  static_cast<std::streamsize>(out.size() * 4));
  return 0;
}

int WriteAdapter(const std::string& base_dir, const std::string& out_dir) {
  auto config = ritsu::engine::LoadModelConfig(base_dir);
  if (!config.ok()) {
    std::fprintf(stderr, "ritsu_merge_fixture: %s\n", config.status().ToString().c_str());
    return 1;
  }
  ritsu::engine::LoraConfig lc;
  lc.r = 16;
  lc.lora_alpha = 32;
  lc.target_modules = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
  auto ad = ritsu::engine::LoraAdapter::Init(*config, lc, 7);
  uint64_t state = 12345;
  for (auto& [key, w] : ad.weights) {
    for (auto& x : w.b) {  // a cheap deterministic spread in [-0.01, 0.01): B != 0 like a trained adapter
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      x = (static_cast<float>(state >> 40) / static_cast<float>(1 << 24) - 0.5f) * 0.02f;
    }
  }
  const auto st = ad.Save(out_dir);
  if (!st.ok()) {
    std::fprintf(stderr, "ritsu_merge_fixture: %s\n", st.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "merge") == 0) return ritsu::merge::MergeMain(argc - 1, argv + 1);
  if (argc >= 2 && std::strcmp(argv[1], "gguf-inspect") == 0) return ritsu::merge::GgufInspectMain(argc - 1, argv + 1);
  if (argc == 4 && std::strcmp(argv[1], "adapter") == 0) return WriteAdapter(argv[2], argv[3]);
  if (argc >= 4 && std::strcmp(argv[1], "logits") == 0) return DumpLogits(argv[2], argv[3], argc - 4, argv + 4);
  if (argc < 2 || argc > 4) {
    std::fprintf(stderr, "usage: ritsu_merge_fixture DIR [qwen3|qwen2] [TOKENIZER_DIR] | logits MODEL OUT ID... | "
                         "merge ... | gguf-inspect ...\n");
    return 2;
  }
  const std::string dir = argv[1];
  const std::string arch = argc >= 3 ? argv[2] : "qwen3";
  const std::string tokenizer_dir = argc == 4 ? argv[3] : "";
  if (arch != "qwen3" && arch != "qwen2") {
    std::fprintf(stderr, "ritsu_merge_fixture: arch must be qwen3 or qwen2 (got %s)\n", arch.c_str());
    return 2;
  }
  auto config = arch == "qwen3" ? ritsu::merge::testing::TinyQwen3Config() : ritsu::merge::testing::TinyQwen2Config();
  if (!tokenizer_dir.empty()) {
    config.vocab_size = 151936;
    config.bos_token_id = 151643;
    config.eos_token_ids = {151645};
  }
  ritsu::merge::testing::WriteTinyModel(dir + "/base", config, ritsu::engine::DType::kBF16, 17, tokenizer_dir.empty());
  if (!tokenizer_dir.empty()) {
    namespace fs = std::filesystem;
    for (const char* f : {"tokenizer.json", "tokenizer_config.json"}) {
      fs::copy_file(fs::path(tokenizer_dir) / f, fs::path(dir) / "base" / f, fs::copy_options::overwrite_existing);
    }
  }
  const auto st = ritsu::merge::testing::MakeAdapter(config, 23).Save(dir + "/lora");
  if (!st.ok()) {
    std::fprintf(stderr, "ritsu_merge_fixture: %s\n", st.ToString().c_str());
    return 1;
  }
  std::printf("%s/base and %s/lora written (%s)\n", dir.c_str(), dir.c_str(), arch.c_str());
  return 0;
}
