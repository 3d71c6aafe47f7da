// ritsu-engine generate: one prompt streamed to stdout, or a JSONL file of prompts generated as
// one batch (one JSON result per line, in order). Throughput and peak memory go to stderr.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "engine/app/command_util.h"
#include "engine/app/subcommands.h"
#include "engine/model/generator.h"

namespace ritsu::engine::app {

static const char kUsage[] =
    "usage: ritsu-engine generate --model DIR [--lora DIR] [--load-in-4bit] [--device cpu|cuda[:N]]\n"
    "         (--prompt TEXT | --prompts FILE.jsonl) [--chat [--system TEXT]] [--max-new-tokens N]\n"
    "         [--temperature X] [--top-p X] [--top-k N] [--seed S] [--max-batch N] [--max-context N]\n"
    "         [--ignore-eos]\n"
    "--prompts lines: a JSON string, an array of token ids, {\"prompt\": ...} or {\"ids\": [...]}.\n"
    "With --prompt the text is streamed; with --prompts each result is a JSON line\n"
    "{\"index\", \"text\", \"token_ids\", \"finish_reason\", \"prompt_tokens\"}.\n";

// eos ids of generation_config.json (what HF generate stops on), if the file has them.
static std::vector<int32_t> GenerationConfigEos(const std::string& dir) {
  std::ifstream in(std::filesystem::path(dir) / "generation_config.json");
  if (!in) return {};
  nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  std::vector<int32_t> out;
  if (j.is_object() && j.contains("eos_token_id")) {
    const auto& e = j["eos_token_id"];
    if (e.is_number_integer()) out.push_back(e.get<int32_t>());
    if (e.is_array()) {
      for (const auto& x : e) {
        if (x.is_number_integer()) out.push_back(x.get<int32_t>());
      }
    }
  }
  return out;
}

static Status Run(const Flags& f) {
  RITSU_ASSIGN_OR_RETURN(std::string dir, f.Require("model"));
  // A wrong --model is reported as such before anything else is read.
  RITSU_RETURN_IF_ERROR(LoadModelConfig(dir).status());
  std::vector<PromptInput> inputs;
  const bool single = f.Has("prompt");
  if (single == f.Has("prompts")) return Status::InvalidArgument("give exactly one of --prompt TEXT or --prompts FILE.jsonl");
  if (single) {
    inputs.push_back({f.Get("prompt"), {}});
  } else {
    RITSU_ASSIGN_OR_RETURN(inputs, ReadPromptsFile(f.Get("prompts")));
  }
  SamplingOptions so;
  RITSU_ASSIGN_OR_RETURN(so.max_new_tokens, f.GetInt("max-new-tokens", 256));
  RITSU_ASSIGN_OR_RETURN(double temperature, f.GetDouble("temperature", 0.0));
  RITSU_ASSIGN_OR_RETURN(double top_p, f.GetDouble("top-p", 1.0));
  RITSU_ASSIGN_OR_RETURN(int64_t top_k, f.GetInt("top-k", 0));
  RITSU_ASSIGN_OR_RETURN(int64_t seed, f.GetInt("seed", 0));
  RITSU_ASSIGN_OR_RETURN(so.max_batch, f.GetInt("max-batch", 16));
  RITSU_ASSIGN_OR_RETURN(so.max_context, f.GetInt("max-context", 0));
  if (temperature < 0) return Status::InvalidArgument("--temperature must be >= 0");
  if (!(top_p > 0 && top_p <= 1)) return Status::InvalidArgument("--top-p must be in (0, 1]");
  if (top_k < 0) return Status::InvalidArgument("--top-k must be >= 0");
  if (so.max_new_tokens < 1) return Status::InvalidArgument("--max-new-tokens must be >= 1");
  if (so.max_batch < 1) return Status::InvalidArgument("--max-batch must be >= 1");
  so.temperature = static_cast<float>(temperature);
  so.top_p = static_cast<float>(top_p);
  so.top_k = static_cast<int32_t>(top_k);
  so.seed = static_cast<uint64_t>(seed);

  std::unique_ptr<tokenizer::Tokenizer> tok;
  if (std::filesystem::exists(std::filesystem::path(dir) / "tokenizer.json")) {
    RITSU_ASSIGN_OR_RETURN(tokenizer::Tokenizer t, tokenizer::Tokenizer::Load(dir));
    tok = std::make_unique<tokenizer::Tokenizer>(std::move(t));
  }
  RITSU_ASSIGN_OR_RETURN(auto prompts, EncodePrompts(inputs, tok.get(), f.Has("chat"), f.Get("system")));
  RITSU_ASSIGN_OR_RETURN(LoadedModel lm, LoadModelFromFlags(f));
  if (f.Has("ignore-eos")) {
    so.stop_token_ids = {-1};  // no id is -1: nothing stops generation but the length
  } else {
    std::set<int32_t> stop;
    for (int64_t e : lm.model->config().eos_token_ids) stop.insert(static_cast<int32_t>(e));
    for (int32_t e : GenerationConfigEos(dir)) stop.insert(e);
    if (f.Has("chat") && tok) stop.insert(tok->im_end_id());
    so.stop_token_ids.assign(stop.begin(), stop.end());
  }
  std::unique_ptr<tokenizer::StreamDecoder> stream;
  if (single && tok) {
    stream = std::make_unique<tokenizer::StreamDecoder>(*tok, /*skip_special=*/true);
    so.on_token = [&stream](size_t, int32_t id) {
      const std::string piece = stream->Push(id);
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
    };
  }
  GenerationStats stats;
  RITSU_ASSIGN_OR_RETURN(auto gens, GenerateBatch(*lm.model, prompts, so, &stats));
  if (stream) {
    const std::string rest = stream->Flush();
    std::fwrite(rest.data(), 1, rest.size(), stdout);
    std::fputc('\n', stdout);
  } else {
    for (size_t i = 0; i < gens.size(); ++i) {
      nlohmann::json j = {{"index", i},
                          {"token_ids", gens[i].tokens},
                          {"finish_reason", gens[i].finish == FinishReason::kStop ? "stop" : "length"},
                          {"prompt_tokens", gens[i].prompt_tokens}};
      if (tok) j["text"] = tok->Decode(gens[i].tokens, /*skip_special=*/true);
      std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    }
  }
  std::fflush(stdout);
  std::fprintf(stderr,
               "generate: %zu prompts on %s, %lld prompt tokens in %.3f s (%.1f tok/s incl. first tokens), "
               "%lld generated tokens, decode %.3f s (%.1f tok/s)\n",
               prompts.size(), lm.backend->name().c_str(), static_cast<long long>(stats.prompt_tokens),
               stats.prefill_seconds, stats.prefill_seconds > 0 ? stats.prompt_tokens / stats.prefill_seconds : 0.0,
               static_cast<long long>(stats.generated_tokens), stats.decode_seconds,
               stats.decode_seconds > 0 ? (stats.generated_tokens - static_cast<double>(gens.size())) / stats.decode_seconds : 0.0);
  std::fprintf(stderr, "generate: %s\n", MemoryReport(*lm.backend).c_str());
  return Status::Ok();
}

int GenerateMain(int argc, char** argv) {
  auto flags = Flags::Parse(argc, argv,
                            {"model", "lora", "device", "prompt", "prompts", "system", "max-new-tokens", "temperature",
                             "top-p", "top-k", "seed", "max-batch", "max-context"},
                            {"load-in-4bit", "hf-load-in-4bit", "chat", "ignore-eos", "help"});
  if (!flags.ok()) {
    std::fputs(kUsage, stderr);
    return Fail("generate", flags.status());
  }
  if (flags->Has("help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  Status st = Run(*flags);
  return st.ok() ? 0 : Fail("generate", st);
}

}  // namespace ritsu::engine::app
