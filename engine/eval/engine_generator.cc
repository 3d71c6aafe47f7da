#include "engine/eval/engine_generator.h"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "engine/app/backend_factory.h"
#include "engine/model/generator.h"
#include "engine/model/model.h"
#include "engine/tokenizer/tokenizer.h"

namespace ritsu::eval {
namespace {

// eos ids of generation_config.json (what HF generate stops on), if present.
std::vector<int32_t> GenerationConfigEos(const std::string& dir) {
  std::ifstream in(std::filesystem::path(dir) / "generation_config.json");
  if (!in) return {};
  nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  std::vector<int32_t> out;
  if (!j.is_object() || !j.contains("eos_token_id")) return out;
  const auto& e = j["eos_token_id"];
  if (e.is_number_integer()) out.push_back(e.get<int32_t>());
  if (e.is_array())
    for (const auto& x : e)
      if (x.is_number_integer()) out.push_back(x.get<int32_t>());
  return out;
}

class EngineGenerator : public TextGenerator {
 public:
  // `adapter` (the trainer's weights in memory) replaces --hf-lora-path when given.
  static Result<std::unique_ptr<EngineGenerator>> Load(const EvalOptions& o, const engine::LoraAdapter* adapter = nullptr) {
    std::error_code ec;
    if (o.hf_model_name.empty()) return Status::InvalidArgument("--hf-model-name is required (an HF model directory)");
    if (!std::filesystem::is_directory(o.hf_model_name, ec))
      return Status::NotFound("--hf-model-name " + o.hf_model_name +
                              ": not a local model directory (ritsu does not download from the Hub; give the path of an HF directory)");
    if (!o.hf_lora_path.empty() && !std::filesystem::is_directory(o.hf_lora_path, ec))
      return Status::NotFound("--hf-lora-path " + o.hf_lora_path + ": not a directory");
    auto g = std::unique_ptr<EngineGenerator>(new EngineGenerator());
    g->options_ = o;
    RITSU_ASSIGN_OR_RETURN(tokenizer::Tokenizer tok, tokenizer::Tokenizer::Load(o.hf_model_name));
    g->tokenizer_ = std::make_unique<tokenizer::Tokenizer>(std::move(tok));
    std::string device = o.device;
    if (device == "auto") {
      auto cuda = engine::MakeBackend("cuda");
      if (cuda.ok()) {
        g->backend_ = std::move(cuda).value();
        device = "cuda";
      } else {
        device = "cpu";
      }
    }
    if (!g->backend_) {
      RITSU_ASSIGN_OR_RETURN(g->backend_, engine::MakeBackend(device));
    }
    engine::ModelLoadOptions lo;
    lo.load_in_4bit = o.load_in_4bit;
    if (adapter) {
      RITSU_ASSIGN_OR_RETURN(engine::ModelConfig config, engine::LoadModelConfig(o.hf_model_name));
      RITSU_ASSIGN_OR_RETURN(auto ck, engine::Checkpoint::OpenDir(o.hf_model_name));
      RITSU_ASSIGN_OR_RETURN(g->model_, engine::Model::FromCheckpoint(config, *ck, *g->backend_, lo, adapter));
      g->in_memory_adapter_ = true;
    } else {
      lo.lora_dir = o.hf_lora_path;
      RITSU_ASSIGN_OR_RETURN(g->model_, engine::Model::Load(o.hf_model_name, *g->backend_, lo));
    }
    std::set<int32_t> stop;
    for (int64_t e : g->model_->config().eos_token_ids) stop.insert(static_cast<int32_t>(e));
    for (int32_t e : GenerationConfigEos(o.hf_model_name)) stop.insert(e);
    stop.insert(g->tokenizer_->im_end_id());
    g->stop_ids_.assign(stop.begin(), stop.end());
    g->device_ = device;
    return g;
  }

  std::vector<std::string> GenerateBatch(const std::vector<std::string>& prompts, const GenOptions& go) override {
    std::vector<std::vector<int32_t>> ids;
    for (const auto& p : prompts) ids.push_back(tokenizer_->Encode(p));
    engine::SamplingOptions so;
    so.max_new_tokens = go.max_new_tokens;
    so.temperature = go.do_sample ? static_cast<float>(go.temperature) : 0.0f;
    so.top_p = go.do_sample ? static_cast<float>(go.top_p) : 1.0f;
    so.seed = go.seed;
    so.stop_token_ids = stop_ids_;
    so.max_batch = std::max<int64_t>(1, static_cast<int64_t>(prompts.size()));
    auto gens = engine::GenerateBatch(*model_, ids, so);
    std::vector<std::string> out;
    if (!gens.ok()) {
      // The interface has no error channel per batch; a failed batch reports its error as
      // every response (parsed as unknown) and on stderr, so the run finishes and says so.
      std::cerr << "ritsu eval: generation failed: " << gens.status().message() << "\n";
      out.assign(prompts.size(), "[generation error] " + gens.status().message());
      return out;
    }
    for (const auto& g : *gens) out.push_back(tokenizer_->Decode(g.tokens, /*skip_special=*/true));
    return out;
  }

  std::string Describe() const override {
    std::string d = options_.hf_model_name;
    if (in_memory_adapter_) d += " + the trainer's adapter in memory";
    else if (!options_.hf_lora_path.empty()) d += " + " + options_.hf_lora_path;
    if (options_.load_in_4bit) d += " (nf4)";
    return d + " on " + device_;
  }

  engine::Model& model() { return *model_; }
  const tokenizer::Tokenizer& tokenizer() const { return *tokenizer_; }

 private:
  EngineGenerator() = default;
  EvalOptions options_;
  std::string device_;
  bool in_memory_adapter_ = false;
  std::unique_ptr<engine::Backend> backend_;
  std::unique_ptr<engine::Model> model_;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer_;
  std::vector<int32_t> stop_ids_;
};

}  // namespace

EvalBackends MakeEngineEvalBackends() {
  EvalBackends b;
  b.make_generator = [](const EvalOptions& o) -> Result<std::unique_ptr<TextGenerator>> {
    RITSU_ASSIGN_OR_RETURN(auto g, EngineGenerator::Load(o));
    return std::unique_ptr<TextGenerator>(std::move(g));
  };
  b.make_chat_renderer = [](const EvalOptions& o) -> Result<ChatRenderer> {
    RITSU_ASSIGN_OR_RETURN(tokenizer::Tokenizer tok, tokenizer::Tokenizer::Load(o.hf_model_name));
    auto shared = std::make_shared<tokenizer::Tokenizer>(std::move(tok));
    return ChatRenderer([shared](const std::string& user) {
      return shared->ApplyChatTemplate({tokenizer::ChatMessage{"user", user, std::nullopt}},
                                       /*add_generation_prompt=*/true, /*enable_thinking=*/false);
    });
  };
  // LLM reranker: the same model judges "is this passage relevant to the question?"; the
  // score is logit(はい) - logit(いいえ) at the answer position.
  b.make_reranker = [](const EvalOptions&, TextGenerator* gen) -> Result<RerankScorer> {
    auto* eg = dynamic_cast<EngineGenerator*>(gen);
    if (!eg) return Status::FailedPrecondition("the reranker needs the engine generator");
    const auto yes = eg->tokenizer().Encode("はい");
    const auto no = eg->tokenizer().Encode("いいえ");
    if (yes.empty() || no.empty()) return Status::Internal("tokenizer cannot encode はい/いいえ");
    const int32_t yes_id = yes[0], no_id = no[0];
    return RerankScorer([eg, yes_id, no_id](const std::string& query, const Passage& p) -> double {
      const std::string prompt = "【法令条文】\n" + p.title + "\n" + p.text + "\n\n【質問】\n" + query +
                                 "\n\n上記の法令条文は質問に答えるために関連していますか？「はい」か「いいえ」で答えてください。\n回答: ";
      auto logits = engine::ComputeLogits(eg->model(), eg->tokenizer().Encode(prompt), /*all_positions=*/false);
      if (!logits.ok()) return -1e30;  // unusable passage sinks to the bottom
      return static_cast<double>((*logits)[static_cast<size_t>(yes_id)]) - (*logits)[static_cast<size_t>(no_id)];
    });
  };
  return b;
}

Result<std::unique_ptr<TextGenerator>> MakeEngineGenerator(const EvalOptions& options,
                                                           const engine::LoraAdapter& adapter) {
  RITSU_ASSIGN_OR_RETURN(auto g, EngineGenerator::Load(options, &adapter));
  return std::unique_ptr<TextGenerator>(std::move(g));
}

int EngineEvalMain(int argc, char** argv) {
  RegisterEvalBackends(MakeEngineEvalBackends());
  return EvalMain(argc, argv);
}

}  // namespace ritsu::eval
