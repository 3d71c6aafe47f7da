#include "engine/train/train_eval.h"

#include <chrono>
#include <filesystem>
#include <ostream>

#include "engine/eval/atomic_file.h"
#include "engine/eval/dataset.h"
#include "engine/eval/engine_generator.h"
#include "engine/eval/ft_builder.h"

namespace ritsu::train {

namespace fs = std::filesystem;
using nlohmann::json;

Result<std::unique_ptr<InTrainingEval>> InTrainingEval::Create(const TrainOptions& o, const tokenizer::Tokenizer& tok,
                                                               int64_t vocab_size, const std::string& device) {
  auto e = std::unique_ptr<InTrainingEval>(new InTrainingEval());
  e->o_ = o;
  e->lawqa_ = IsLawqaEvalFile(o.eval_file);
  std::vector<RawSample> raw;
  if (e->lawqa_) {
    // The accuracy's flags, parsed by the eval's own parser: `ritsu-engine eval` with these
    // flags on a checkpoint measures what this measures.
    e->eval_args_ = {"--data", o.eval_file, "--output", (fs::path(o.output_dir) / "eval" / "step.json").string(),
                     "--prompt-format", o.eval_prompt_format, "--batch-size", std::to_string(o.eval_batch_size),
                     "--hf-model-name", o.model_name, "--device", device};
    if (o.eval_samples > 0) e->eval_args_.insert(e->eval_args_.end(), {"--samples", std::to_string(o.eval_samples)});
    if (o.eval_max_new_tokens > 0) {
      e->eval_args_.insert(e->eval_args_.end(), {"--max-new-tokens", std::to_string(o.eval_max_new_tokens)});
    }
    if (!o.eval_rag) e->eval_args_.push_back("--no-rag");
    if (o.use_4bit) e->eval_args_.push_back("--hf-load-in-4bit");
    auto parsed = eval::ParseEvalOptions(e->eval_args_);
    if (!parsed.ok()) return Status::InvalidArgument("--eval-file " + o.eval_file + ": " + parsed.status().message());
    e->eval_ = *parsed;
    auto data = eval::LoadDataset(o.eval_file);
    if (!data.ok()) return Status::InvalidArgument("--eval-file: " + data.status().message());
    if (o.eval_samples > 0 && static_cast<size_t>(o.eval_samples) < data->size()) data->resize(static_cast<size_t>(o.eval_samples));
    const eval::FtMode mode = o.train_mode == "cot" ? eval::FtMode::kCot : eval::FtMode::kDirect;
    for (const eval::Sample& s : *data) {
      const json rec = eval::BuildFtRecord(s, mode, o.eval_rag);
      raw.push_back({rec.at("input").get<std::string>(), rec.at("output").get<std::string>(), "",
                     static_cast<int64_t>(s.index) + 1});
    }
  } else {
    ReadReport report;
    RITSU_ASSIGN_OR_RETURN(raw, ReadTrainJsonl(o.eval_file, o.on_bad_line, &report));
    RITSU_ASSIGN_OR_RETURN(raw, FilterByMode(std::move(raw), o.train_mode));
    if (o.eval_samples > 0 && static_cast<size_t>(o.eval_samples) < raw.size()) raw.resize(static_cast<size_t>(o.eval_samples));
  }
  TokenizeReport tr;
  e->loss_samples_ = TokenizeSamples(raw, tok, o.prompt_format, o.max_seq_length, &tr);
  for (const auto& s : e->loss_samples_) {
    for (int32_t id : s.ids) {
      if (id < 0 || id >= vocab_size) {
        return Status::InvalidArgument("--eval-file " + o.eval_file + ": sample " + std::to_string(s.line) +
                                       ": token id " + std::to_string(id) + " is outside the model's vocabulary");
      }
    }
  }
  if (e->loss_samples_.empty()) return Status::InvalidArgument("--eval-file " + o.eval_file + ": no sample to evaluate");
  return e;
}

Result<json> InTrainingEval::Run(int64_t step, DataParallel& dp, const engine::LoraConfig& lora, std::ostream& log) {
  const auto t0 = std::chrono::steady_clock::now();
  json m;
  // eval_loss: grad_scale 0 and no dropout; the gradient buffers are zeroed by the next step.
  double loss_sum = 0;
  int64_t labels = 0;
  const int64_t n = samples();
  for (int64_t begin = 0; begin < n; begin += o_.batch_size) {
    std::vector<const TokenizedSample*> picked;
    for (int64_t i = begin; i < std::min(n, begin + o_.batch_size); ++i) picked.push_back(&loss_samples_[static_cast<size_t>(i)]);
    const PackedBatch batch = PackBatch(picked, o_.loss_on_output_only);
    if (batch.n_labels() == 0) continue;
    RITSU_RETURN_IF_ERROR(dp.OnPrimary([&](LoraNet& net) {
      const LossResult r = net.LossAndGrad(batch, 0.0f, 0, /*training=*/false);
      loss_sum += r.loss_sum;
      labels += r.n_labels;
      return Status::Ok();
    }));
  }
  if (labels > 0) m["eval_loss"] = loss_sum / static_cast<double>(labels);
  m["eval_samples"] = n;
  if (lawqa_) {
    engine::LoraAdapter adapter;
    RITSU_RETURN_IF_ERROR(dp.OnPrimary([&](LoraNet& net) {
      adapter = net.ToAdapter(lora);
      return Status::Ok();
    }));
    // A fresh inference model per evaluation (the base is re-read from its checkpoint): it
    // exists only while the evaluation runs.
    RITSU_ASSIGN_OR_RETURN(auto gen, eval::MakeEngineGenerator(eval_, adapter));
    eval::ChatRenderer chat;
    if (eval_.prompt_format == eval::PromptFormat::kChat) {
      RITSU_ASSIGN_OR_RETURN(chat, eval::MakeEngineEvalBackends().make_chat_renderer(eval_));
    }
    RITSU_ASSIGN_OR_RETURN(json doc, eval::EvaluateToDocument(eval_, *gen, chat, eval::RerankScorer(), log));
    const std::string path = (fs::path(o_.output_dir) / "eval" / ("step-" + std::to_string(step) + ".json")).string();
    std::error_code ec;
    fs::create_directories(fs::path(path).parent_path(), ec);
    RITSU_RETURN_IF_ERROR(eval::WriteFileAtomically(path, doc.dump(2) + "\n", /*overwrite=*/true));
    const json& s = doc["summary"];
    m["eval_accuracy"] = s["accuracy"];
    m["eval_correct_count"] = s["correct_count"];
    m["eval_unknown_count"] = s["unknown_count"];
    m["eval_samples"] = s["total_count"];
  }
  m["eval_runtime"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return m;
}

}  // namespace ritsu::train
