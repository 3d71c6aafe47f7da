// ritsu-engine logits: the logits of each prompt (last position, or all positions) as a
// float32 .npy, for the parity harness (tests/parity/) and debugging.
#include <cstdio>
#include <filesystem>

#include "engine/app/command_util.h"
#include "engine/app/npy.h"
#include "engine/app/subcommands.h"
#include "engine/model/generator.h"

namespace ritsu::engine::app {

static const char kUsage[] =
    "usage: ritsu-engine logits --model DIR [--lora DIR] [--load-in-4bit] [--device cpu|cuda[:N]]\n"
    "         (--prompt TEXT | --prompts FILE.jsonl) [--chat] [--all-positions] --out FILE.npy\n"
    "Writes float32 [n_prompts, vocab] (last position of each prompt) or, with --all-positions,\n"
    "[sum of prompt lengths, vocab] (every position, prompts concatenated in order).\n";

static Status Run(const Flags& f) {
  RITSU_ASSIGN_OR_RETURN(std::string dir, f.Require("model"));
  // A wrong --model is reported as such before anything else is read.
  RITSU_RETURN_IF_ERROR(LoadModelConfig(dir).status());
  RITSU_ASSIGN_OR_RETURN(std::string out_path, f.Require("out"));
  std::vector<PromptInput> inputs;
  if (f.Has("prompt") == f.Has("prompts")) return Status::InvalidArgument("give exactly one of --prompt TEXT or --prompts FILE.jsonl");
  if (f.Has("prompt")) {
    inputs.push_back({f.Get("prompt"), {}});
  } else {
    RITSU_ASSIGN_OR_RETURN(inputs, ReadPromptsFile(f.Get("prompts")));
  }
  std::unique_ptr<tokenizer::Tokenizer> tok;
  if (std::filesystem::exists(std::filesystem::path(dir) / "tokenizer.json")) {
    RITSU_ASSIGN_OR_RETURN(tokenizer::Tokenizer t, tokenizer::Tokenizer::Load(dir));
    tok = std::make_unique<tokenizer::Tokenizer>(std::move(t));
  }
  RITSU_ASSIGN_OR_RETURN(auto prompts, EncodePrompts(inputs, tok.get(), f.Has("chat"), ""));
  RITSU_ASSIGN_OR_RETURN(LoadedModel lm, LoadModelFromFlags(f));
  const bool all = f.Has("all-positions");
  std::vector<float> data;
  int64_t rows = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    auto logits = ComputeLogits(*lm.model, prompts[i], all);
    if (!logits.ok()) return logits.status().Annotate("prompt " + std::to_string(i));
    data.insert(data.end(), logits->begin(), logits->end());
    rows += all ? static_cast<int64_t>(prompts[i].size()) : 1;
  }
  RITSU_RETURN_IF_ERROR(WriteNpyF32(out_path, {rows, lm.model->config().vocab_size}, data.data()));
  std::fprintf(stderr, "logits: wrote %s [%lld, %lld] on %s; %s\n", out_path.c_str(), static_cast<long long>(rows),
               static_cast<long long>(lm.model->config().vocab_size), lm.backend->name().c_str(),
               MemoryReport(*lm.backend).c_str());
  return Status::Ok();
}

int LogitsMain(int argc, char** argv) {
  auto flags = Flags::Parse(argc, argv, {"model", "lora", "device", "prompt", "prompts", "out"},
                            {"load-in-4bit", "hf-load-in-4bit", "chat", "all-positions", "help"});
  if (!flags.ok()) {
    std::fputs(kUsage, stderr);
    return Fail("logits", flags.status());
  }
  if (flags->Has("help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  Status st = Run(*flags);
  return st.ok() ? 0 : Fail("logits", st);
}

}  // namespace ritsu::engine::app
