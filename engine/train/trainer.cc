#include "engine/train/trainer.h"

#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "common/atomic_file.h"
#include "common/gpu_estimate.h"
#include "engine/model/config.h"
#include "engine/model/safetensors.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/train/best_model.h"
#include "engine/train/checkpoint.h"
#include "engine/train/data_parallel.h"
#include "engine/train/lora_net.h"
#include "engine/train/lr_schedule.h"
#include "engine/train/metrics_series.h"
#include "engine/train/stop_signal.h"
#include "engine/train/train_data.h"
#include "engine/train/train_eval.h"
#include "engine/train/weight_source.h"

namespace ritsu::train {

namespace fs = std::filesystem;
using nlohmann::json;

uint64_t MicroBatchSeed(uint64_t seed, int64_t step, int64_t micro) {
  uint64_t z = seed * 0x9e3779b97f4a7c15ull + static_cast<uint64_t>(step) * 0xbf58476d1ce4e5b9ull +
               static_cast<uint64_t>(micro) * 0x94d049bb133111ebull + 1;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  return z ^ (z >> 31);
}

namespace {

// bitsandbytes' bnb_4bit_compute_dtype on the GPU: bfloat16 (default) and float16 both run the
// frozen products in bf16 (fp16 has no advantage on Ampere/Hopper and overflows more easily);
// float32 gives the exact fp32 path. The CPU always computes in fp32 (the oracle).
ComputeDtype GpuComputeDtype(const TrainOptions& o) {
  return o.bnb_4bit_compute_dtype == "float32" ? ComputeDtype::kFp32 : ComputeDtype::kBf16;
}

// One replica of the trained network: its device and the LoraNet on it. With --gpus N it runs
// on the replica's own thread (for CUDA that makes `ordinal` the thread's current device),
// concurrently for the N replicas: `weights` is only read (both WeightSources are read-only).
Result<std::unique_ptr<LoraNet>> CreateReplica(const TrainOptions& o, const engine::ModelConfig& config,
                                               const WeightSource& weights, const engine::LoraAdapter& init,
                                               bool cuda, int ordinal) {
  std::unique_ptr<TrainDevice> device;
  if (cuda) {
    RITSU_ASSIGN_OR_RETURN(device, MakeCudaTrainDevice(ordinal, o.max_gpu_memory_bytes, GpuComputeDtype(o)));
  } else {
    device = MakeCpuTrainDevice();
  }
  return LoraNet::Create(config, weights, o.use_4bit, init, std::move(device));
}

double MaxRssGiB() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / (1024.0 * 1024.0);  // ru_maxrss is KiB on Linux
}

std::string GiBText(size_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f GiB", static_cast<double>(bytes) / (1ull << 30));
  return buf;
}

std::string Hms(double s) {
  const int64_t t = static_cast<int64_t>(s + 0.5);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02lld:%02lld:%02lld", static_cast<long long>(t / 3600),
                static_cast<long long>(t / 60 % 60), static_cast<long long>(t % 60));
  return buf;
}

Status CopyTokenizerFiles(const std::string& model_dir, const std::string& out_dir) {
  for (const char* name : {"tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt",
                           "special_tokens_map.json", "added_tokens.json"}) {
    const fs::path src = fs::path(model_dir) / name;
    if (!fs::exists(src)) continue;
    std::error_code ec;
    fs::copy_file(src, fs::path(out_dir) / name, fs::copy_options::overwrite_existing, ec);
    if (ec) return Status::IOError("copying " + src.string() + " to " + out_dir + ": " + ec.message());
  }
  return Status::Ok();
}

Status WriteJsonFile(const std::string& path, const json& j) { return WriteFileAtomic(path, j.dump(2) + "\n"); }

// Copies the PEFT adapter files of checkpoint `src` into `dst` (--load-best-model-at-end).
Status CopyAdapterFiles(const std::string& src, const std::string& dst) {
  for (const char* name : {"adapter_config.json", "adapter_model.safetensors"}) {
    const fs::path from = fs::path(src) / name, to = fs::path(dst) / name;
    const fs::path tmp = to.string() + ".tmp";
    std::error_code ec;
    fs::copy_file(from, tmp, fs::copy_options::overwrite_existing, ec);
    if (!ec) fs::rename(tmp, to, ec);
    if (ec) return Status::IOError("copying " + from.string() + " to " + to.string() + ": " + ec.message());
  }
  return Status::Ok();
}

std::string CheckpointDir(const std::string& output_dir, int64_t step) {
  return (fs::path(output_dir) / ("checkpoint-" + std::to_string(step))).string();
}

}  // namespace

Result<TrainSummary> RunTrainingImpl(const TrainOptions& o, std::ostream& out, std::ostream& err);

std::string MemoryNeedMessage(const TrainOptions& o) {
  auto c = engine::LoadModelConfig(o.model_name);
  if (!c.ok()) return "";
  ModelShape m;
  m.hidden = c->hidden_size;
  m.layers = c->num_hidden_layers;
  m.intermediate = c->intermediate_size;
  m.vocab = c->vocab_size;
  m.heads = c->num_attention_heads;
  m.kv_heads = c->num_key_value_heads;
  m.head_dim = c->head_dim;
  m.tied_embeddings = c->tie_word_embeddings;
  EstimateOptions e;
  e.kind = TaskKind::kTrain;
  e.nf4 = o.use_4bit;
  e.batch = o.batch_size;
  e.seq = o.max_seq_length;
  e.lora_r = o.lora_r;
  e.lora_targets = static_cast<int64_t>(o.target_modules.size());
  const Estimate need = EstimateGpuMemory(m, e);
  return "; this run needs about " + GiBText(need.bytes) + " per GPU (" + need.breakdown +
         "): raise --max-gpu-memory, or lower --batch-size / --max-seq-length" +
         (o.use_4bit ? std::string() : ", or add --use-4bit");
}

Result<TrainSummary> RunTraining(const TrainOptions& o, std::ostream& out, std::ostream& err) {
  try {
    return RunTrainingImpl(o, out, err);
  } catch (const TrainOutOfMemory& e) {
    return Status::FailedPrecondition(std::string("out of device memory: ") + e.what() + MemoryNeedMessage(o));
  }
}

Result<TrainSummary> RunTrainingImpl(const TrainOptions& o, std::ostream& out, std::ostream& err) {
  // --gpus first: a wrong count is reported before the model and the data are read.
  RITSU_ASSIGN_OR_RETURN(const ReplicaPlan plan, PlanReplicas(o));
  if (!o.max_gpu_memory.empty() && o.device != "cuda") {
    err << "train: --max-gpu-memory applies to --device cuda only; ignored on cpu\n";
  }
  if (!fs::is_directory(o.model_name)) {
    return Status::NotFound("--model-name " + o.model_name + ": not a model directory (config.json + safetensors)");
  }
  RITSU_ASSIGN_OR_RETURN(engine::ModelConfig config, engine::LoadModelConfig(o.model_name));
  // The frozen base: the checkpoint, or (benchmarks) make-model's random values for a seed.
  std::unique_ptr<engine::Checkpoint> ck;
  std::unique_ptr<WeightSource> weights;
  if (o.random_base_seed >= 0) {
    weights = std::make_unique<RandomBaseWeights>(config, static_cast<uint64_t>(o.random_base_seed));
  } else {
    RITSU_ASSIGN_OR_RETURN(ck, engine::Checkpoint::OpenDir(o.model_name));
    weights = std::make_unique<CheckpointWeights>(*ck);
  }
  RITSU_ASSIGN_OR_RETURN(tokenizer::Tokenizer tok, tokenizer::Tokenizer::Load(o.model_name));

  // Data.
  ReadReport read_report;
  RITSU_ASSIGN_OR_RETURN(auto raw, ReadTrainJsonl(o.train_file, o.on_bad_line, &read_report));
  for (const auto& m : read_report.messages) err << "train: skipped " << m << "\n";
  RITSU_ASSIGN_OR_RETURN(raw, FilterByMode(std::move(raw), o.train_mode));
  TokenizeReport tok_report;
  std::vector<TokenizedSample> samples = TokenizeSamples(raw, tok, o.prompt_format, o.max_seq_length, &tok_report);
  for (const auto& s : samples) {
    for (int32_t id : s.ids) {
      if (id < 0 || id >= config.vocab_size) {
        return Status::InvalidArgument(o.train_file + ":" + std::to_string(s.line) + ": token id " + std::to_string(id) +
                                       " is outside the model's vocabulary of " + std::to_string(config.vocab_size));
      }
    }
  }
  out << "train: " << raw.size() << " samples (mode " << o.train_mode << "), " << tok_report.truncated
      << " truncated to " << o.max_seq_length << " tokens, " << tok_report.dropped_no_output
      << " dropped with no output tokens left, " << read_report.skipped_lines << " bad lines skipped\n";
  if (samples.empty()) return Status::InvalidArgument("--train-file " + o.train_file + ": no sample left to train on");

  // Evaluation during training (its data is read and checked before the model is loaded).
  std::unique_ptr<InTrainingEval> evaluator;
  if (o.eval_strategy != "no") {
    if (o.random_base_seed >= 0) {
      return Status::InvalidArgument("--eval-file needs a base checkpoint; --random-base-seed has none");
    }
    const std::string eval_device = plan.cuda ? "cuda:" + std::to_string(plan.ordinals[0]) : "cpu";
    RITSU_ASSIGN_OR_RETURN(evaluator, InTrainingEval::Create(o, tok, config.vocab_size, eval_device));
    out << "train: evaluating " << evaluator->samples() << " samples of " << o.eval_file << " every "
        << (o.eval_strategy == "steps" ? std::to_string(o.eval_steps) + " steps" : std::string("epoch"))
        << " and at the last step (" << (evaluator->lawqa() ? "eval_accuracy and eval_loss" : "eval_loss")
        << "; best by " << o.metric_for_best_model << ", " << (o.greater_is_better ? "greater" : "smaller")
        << " is better)\n";
  }
  // Model + LoRA.
  engine::LoraConfig lora;
  lora.r = o.lora_r;
  lora.lora_alpha = o.lora_alpha;
  lora.lora_dropout = o.lora_dropout;
  lora.use_rslora = o.use_rslora;
  lora.target_modules = o.target_modules;
  lora.base_model_name_or_path = o.model_name;
  const engine::LoraAdapter init = engine::LoraAdapter::Init(config, lora, o.seed);
  RITSU_ASSIGN_OR_RETURN(auto dp, DataParallel::Create(plan, [&](int r) {
                           return CreateReplica(o, config, *weights, init, plan.cuda, plan.ordinals[static_cast<size_t>(r)]);
                         }));
  const int64_t replicas = dp->size();
  const std::string device_name = dp->DevicesName();
  int64_t n_params = 0;
  for (const auto& p : dp->primary().params()) n_params += static_cast<int64_t>(p.a.size() + p.b.size());

  const int64_t n = static_cast<int64_t>(samples.size());
  const int64_t batches_per_epoch = (n + o.batch_size - 1) / o.batch_size;
  // Micro-batches per optimizer step: --gradient-accumulation-steps on each of the replicas, so
  // --gpus N with accumulation A is the single-device run with accumulation N x A.
  const int64_t accum = o.gradient_accumulation_steps * replicas;
  const int64_t total_steps = o.max_steps_override > 0
                                  ? o.max_steps_override
                                  : std::max<int64_t>(1, (o.num_epochs * batches_per_epoch + accum - 1) / accum);
  const int64_t warmup = WarmupSteps(o.warmup_ratio, total_steps);

  std::error_code ec;
  fs::create_directories(o.output_dir, ec);
  if (ec) return Status::IOError("--output-dir " + o.output_dir + ": " + ec.message());

  TrainProgress prog;
  prog.total_steps = total_steps;
  prog.seed = o.seed;
  std::string last_checkpoint;
  std::string resume_dir = o.resume;
  if (o.resume == "auto") {
    // The newest complete checkpoint, or a fresh start: a retried or requeued task passes
    // --resume auto whether or not its first attempt got as far as a checkpoint.
    resume_dir = LatestCheckpoint(o.output_dir);
    if (resume_dir.empty()) out << "train: no checkpoint in " << o.output_dir << ": starting fresh\n";
  } else if (resume_dir.empty() && !CheckpointSteps(o.output_dir).empty()) {
    err << "train: " << o.output_dir << " holds checkpoints of an earlier run; this run starts fresh"
        << (o.no_resume ? "" : " (--resume auto would continue it)") << " and replaces them as it saves\n";
  }
  if (!resume_dir.empty()) {
    const std::string dir = resume_dir;
    // Every replica loads the checkpoint (masters and moments), so they start identical.
    RITSU_RETURN_IF_ERROR(dp->ForEachReplica([&](LoraNet& net) -> Status {
      RITSU_ASSIGN_OR_RETURN(TrainProgress p, LoadCheckpoint(dir, net));
      if (&net == &dp->primary()) prog = std::move(p);  // the same file for all: replica 0's copy
      return Status::Ok();
    }));
    if (prog.seed != o.seed || prog.total_steps != total_steps) {
      return Status::InvalidArgument("--resume " + dir + ": saved with --seed " + std::to_string(prog.seed) + " and " +
                                     std::to_string(prog.total_steps) + " steps; this run has --seed " +
                                     std::to_string(o.seed) + " and " + std::to_string(total_steps) + " steps");
    }
    last_checkpoint = dir;
    out << "train: resuming from " << fs::path(dir).filename().string() << " (step " << prog.global_step << ") in "
        << fs::path(dir).parent_path().string() << "\n";
  }
  // Settings may differ from the checkpoint's (--logging-steps, --eval-steps...); this run's apply.
  prog.hf_args = {{"logging_steps", o.logging_steps},
                  {"eval_steps", o.eval_strategy == "steps" ? json(o.eval_steps) : json(nullptr)},
                  {"save_steps", o.save_steps > 0 ? o.save_steps : total_steps},
                  {"train_batch_size", o.batch_size},
                  {"num_train_epochs", o.num_epochs},
                  {"early_stopping_patience", o.early_stopping_patience},
                  {"early_stopping_threshold", o.early_stopping_threshold}};

  const BestModelTracker tracker(o.metric_for_best_model, o.greater_is_better, o.early_stopping_patience,
                                 o.early_stopping_threshold);
  MetricsSeries series = MetricsSeries::FromEnvironment();
  out << "train: " << config.ArchitectureName() << " " << config.num_hidden_layers << " layers, "
      << (o.use_4bit ? "NF4 (stored packed, dequantized per linear)" : "dense") << " frozen base"
      << (o.random_base_seed >= 0 ? " (random, seed " + std::to_string(o.random_base_seed) + ")" : std::string())
      << " on " << device_name << ", LoRA r=" << o.lora_r << " on " << dp->primary().params().size()
      << " modules (" << n_params << " trainable parameters), " << total_steps << " steps of "
      << (replicas > 1 ? std::to_string(replicas) + " replicas x " : std::string()) << o.gradient_accumulation_steps
      << " x " << o.batch_size << " samples, warmup " << warmup << "\n";

  if (o.parity_dump && prog.global_step == 0) {
    RITSU_RETURN_IF_ERROR(init.Save((fs::path(o.output_dir) / "initial_adapter").string(), engine::DType::kF32));
  }
  json data_order = json::array();  // per step: per micro-batch: the file lines of its samples
  std::vector<int64_t> order = EpochOrder(n, o.seed, prog.epoch);
  int64_t order_epoch = prog.epoch;
  const auto t_start = std::chrono::steady_clock::now();
  int64_t tokens_this_run = 0;
  int64_t steps_this_run = 0;
  int64_t last_saved_step = last_checkpoint.empty() ? -1 : prog.global_step;
  bool preempted = StopRequested();  // a signal while loading: nothing new to save
  // Saves checkpoint-N of the current step (atomic), then applies --save-total-limit.
  auto save_checkpoint = [&]() -> Status {
    const std::string dir = CheckpointDir(o.output_dir, prog.global_step);
    if (prog.best.has_best && prog.best.best_step == prog.global_step) prog.best.best_checkpoint = dir;
    prog.epoch_float = static_cast<double>(prog.epoch) +
                       static_cast<double>(prog.next_batch) / static_cast<double>(batches_per_epoch);
    RITSU_RETURN_IF_ERROR(dp->OnPrimary([&](LoraNet& net) { return SaveCheckpoint(dir, net, lora, prog); }));
    last_checkpoint = dir;
    last_saved_step = prog.global_step;
    out << "train: saved " << dir << std::endl;
    const int64_t best_step = prog.best.best_checkpoint.empty() ? -1 : prog.best.best_step;
    for (int64_t old : CheckpointsToDelete(CheckpointSteps(o.output_dir), o.save_total_limit, best_step)) {
      std::error_code ec;
      fs::remove_all(CheckpointDir(o.output_dir, old), ec);
      out << "train: deleted checkpoint-" << old << " (--save-total-limit " << o.save_total_limit << ")" << std::endl;
    }
    return Status::Ok();
  };
  // The evaluation due at this step (if any), then the checkpoint due (if any).
  auto evaluate_and_save = [&](bool eval_due) -> Status {
    const bool last_step = prog.global_step == total_steps;
    bool evaluated = false;
    if (eval_due) {
      RITSU_ASSIGN_OR_RETURN(json m, evaluator->Run(prog.global_step, *dp, lora, out));
      evaluated = true;
      prog.last_eval_epoch = prog.epoch;
      prog.last_eval = m;
      json entry = m;
      entry["step"] = prog.global_step;
      entry["epoch"] = prog.epoch_float;
      prog.log_history.push_back(entry);
      json rec = {{"kind", "eval"}, {"step", prog.global_step}, {"epoch", prog.epoch_float}};
      for (const char* k : {"eval_accuracy", "eval_loss", "eval_samples"}) {
        if (m.contains(k)) rec[k] = m[k];
      }
      series.Append(rec, err);
      const bool best = tracker.Observe(prog.global_step, m, &prog.best);
      char line[256];
      std::snprintf(line, sizeof line, "eval step %lld/%lld  epoch %.2f", static_cast<long long>(prog.global_step),
                    static_cast<long long>(total_steps), prog.epoch_float);
      out << line;
      if (m.contains("eval_accuracy")) {
        out << "  eval_accuracy " << m["eval_accuracy"].get<double>() << " (" << m["eval_correct_count"] << "/"
            << m["eval_samples"] << ")";
      }
      if (m.contains("eval_loss")) out << "  eval_loss " << m["eval_loss"].get<double>();
      out << (best ? "  (best so far)" : "") << std::endl;
      if (prog.best.should_training_stop) {
        out << "train: early stopping at step " << prog.global_step << ": " << o.metric_for_best_model
            << " did not improve by more than " << o.early_stopping_threshold << " for " << o.early_stopping_patience
            << " evaluations (best " << prog.best.best_metric << " at step " << prog.best.best_step << ")" << std::endl;
      }
    }
    // Checkpoints: every --save-steps, and with --load-best-model-at-end at every evaluation
    // (so the best step always has one). The last step's adapter goes to the output dir itself.
    const bool stop_now = last_step || prog.best.should_training_stop;
    if ((o.save_steps > 0 && prog.global_step % o.save_steps == 0 && !stop_now) ||
        (o.load_best_model_at_end && evaluated)) {
      RITSU_RETURN_IF_ERROR(save_checkpoint());
    }
    return Status::Ok();
  };
  if (prog.eval_pending && !preempted) {
    // The run this resumes was preempted before the evaluation of its last step.
    prog.eval_pending = false;
    if (evaluator) {
      out << "train: evaluating step " << prog.global_step << ", deferred by the preemption" << std::endl;
      RITSU_RETURN_IF_ERROR(evaluate_and_save(true));
    }
  }
  while (!preempted && !prog.best.should_training_stop && prog.global_step < total_steps) {
    std::vector<PackedBatch> micro;
    for (int64_t i = 0; i < accum; ++i) {
      if (order_epoch != prog.epoch) {
        order = EpochOrder(n, o.seed, prog.epoch);
        order_epoch = prog.epoch;
      }
      std::vector<const TokenizedSample*> picked;
      for (int64_t j = prog.next_batch * o.batch_size; j < std::min(n, (prog.next_batch + 1) * o.batch_size); ++j) {
        picked.push_back(&samples[static_cast<size_t>(order[static_cast<size_t>(j)])]);
      }
      micro.push_back(PackBatch(picked, o.loss_on_output_only));
      if (o.parity_dump) {
        if (i == 0) data_order.push_back(json::array());
        json lines = json::array();
        for (const TokenizedSample* s : picked) lines.push_back(s->line);
        data_order.back().push_back(lines);
      }
      if (++prog.next_batch == batches_per_epoch) {
        prog.next_batch = 0;
        ++prog.epoch;
      }
    }
    int64_t labels = 0, tokens = 0;
    for (const auto& b : micro) {
      labels += b.n_labels();
      tokens += b.n_tokens();
    }
    // grad_scale = 1 / labels of the whole step (all replicas): the summed gradients are those
    // of the step's mean loss. Dropout seeds follow the micro-batch's index in the step.
    RITSU_ASSIGN_OR_RETURN(const DataParallel::StepGradients g,
                           dp->ComputeGradients(micro, labels > 0 ? 1.0f / static_cast<float>(labels) : 0.0f,
                                                labels > 0, [&](int64_t i) {
                                                  return MicroBatchSeed(o.seed, prog.global_step, i);
                                                }));
    const double loss = labels > 0 ? g.loss_sum / static_cast<double>(labels) : 0.0;
    const double grad_norm = g.grad_norm;
    if (o.parity_dump && prog.global_step == 0) {
      // The step-0 gradients of the mean loss, before clipping, as an adapter (peft key names).
      RITSU_RETURN_IF_ERROR(dp->OnPrimary([&](LoraNet& net) {
        engine::LoraAdapter grads = net.ToAdapter(lora);
        for (const LoraParam& p : net.params()) {
          engine::LoraWeights& w = grads.weights.at({p.layer, p.module});
          w.a = net.Host(p.grad_a);
          w.b = net.Host(p.grad_b);
        }
        return grads.Save((fs::path(o.output_dir) / "step0_grads").string(), engine::DType::kF32);
      }));
    }
    if (!std::isfinite(loss) || !std::isfinite(grad_norm)) {
      return Status::FailedPrecondition(
          "loss is " + std::to_string(loss) + " (grad norm " + std::to_string(grad_norm) + ") at step " +
          std::to_string(prog.global_step + 1) + ": stopped without applying it; " +
          (last_checkpoint.empty() ? std::string("no checkpoint was written yet")
                                   : "the last good checkpoint is " + last_checkpoint) +
          ". Lower --learning-rate or --max-grad-norm.");
    }
    const double clip = o.max_grad_norm > 0 ? std::min(1.0, o.max_grad_norm / (grad_norm + 1e-6)) : 1.0;
    const double lr = LearningRateAt(o.lr_scheduler, o.learning_rate, prog.global_step, warmup, total_steps);
    RITSU_RETURN_IF_ERROR(dp->ApplyAdamW(static_cast<float>(lr), static_cast<float>(o.weight_decay),
                                         prog.global_step + 1, static_cast<float>(clip)));
    ++prog.global_step;
    ++steps_this_run;
    tokens_this_run += tokens;
    prog.tokens_seen += tokens;
    prog.loss_sum_all += loss;
    prog.window_loss += loss;
    ++prog.window_steps;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
    const double tps = elapsed > 0 ? static_cast<double>(tokens_this_run) / elapsed : 0.0;
    if (prog.global_step % o.logging_steps == 0 || prog.global_step == total_steps) {
      const double epoch_f = static_cast<double>(prog.epoch) +
                             static_cast<double>(prog.next_batch) / static_cast<double>(batches_per_epoch);
      const double mean_loss = prog.window_loss / static_cast<double>(prog.window_steps);
      const double eta = static_cast<double>(total_steps - prog.global_step) * elapsed / static_cast<double>(steps_this_run);
      char line[512];
      std::snprintf(line, sizeof line,
                    "step %lld/%lld  epoch %.2f  loss %.4f  lr %.3e  grad_norm %.4f  tokens/s %.1f  mem %.2f GiB (%s)  eta %s",
                    static_cast<long long>(prog.global_step), static_cast<long long>(total_steps), epoch_f, mean_loss,
                    lr, grad_norm, tps,
                    dp->is_cuda() ? static_cast<double>(dp->PeakBytes()) / (1ull << 30) : MaxRssGiB(),
                    !dp->is_cuda() ? "host RSS"
                                   : (std::string(replicas > 1 ? "GPU peak of the largest replica, " : "GPU peak, ") +
                                      GiBText(dp->PeakReservedBytes()) + " reserved")
                                         .c_str(),
                    Hms(eta).c_str());
      out << line << std::endl;
      prog.log_history.push_back({{"step", prog.global_step}, {"epoch", epoch_f}, {"loss", mean_loss},
                                  {"learning_rate", lr}, {"grad_norm", grad_norm}, {"tokens_per_second", tps}});
      json rec = {{"kind", "train"}, {"step", prog.global_step}, {"epoch", epoch_f}, {"loss", mean_loss},
                  {"learning_rate", lr}, {"grad_norm", grad_norm}, {"tokens_per_second", tps}};
      if (dp->is_cuda()) rec["gpu_mem_bytes"] = dp->PeakBytes();
      series.Append(rec, err);
      prog.window_loss = 0;
      prog.window_steps = 0;
    }
    if (o.after_step) o.after_step(prog.global_step);
    prog.epoch_float = static_cast<double>(prog.epoch) +
                       static_cast<double>(prog.next_batch) / static_cast<double>(batches_per_epoch);
    const bool eval_due = evaluator && (prog.global_step == total_steps ||
                                        (o.eval_strategy == "steps" && prog.global_step % o.eval_steps == 0) ||
                                        (o.eval_strategy == "epoch" && prog.epoch > prog.last_eval_epoch));
    if (eval_due && StopRequested() && prog.global_step < total_steps) {
      // Preempted before this step's evaluation, which could outlast the grace period: the
      // checkpoint is written now and the resumed run evaluates this step first.
      prog.eval_pending = true;
      preempted = true;
      break;
    }
    RITSU_RETURN_IF_ERROR(evaluate_and_save(eval_due));
    if (StopRequested() && prog.global_step < total_steps && !prog.best.should_training_stop) preempted = true;
  }
  if (preempted) {
    // Preemption (stop_signal.h): the step in flight finished; keep it, unless nothing moved
    // since the last checkpoint.
    const bool wrote = last_saved_step != prog.global_step && prog.global_step > 0;
    if (wrote) RITSU_RETURN_IF_ERROR(save_checkpoint());
    if (prog.global_step > 0) {
      RITSU_RETURN_IF_ERROR(WriteJsonFile((fs::path(o.output_dir) / "trainer_state.json").string(), prog.HfTrainerState()));
    }
    if (const char* mf = std::getenv("RITSU_METRICS_FILE"); mf && *mf) {
      json metrics = {{"preempted", true}, {"steps", prog.global_step}};
      if (prog.best.has_best) metrics["best_metric"] = prog.best.best_metric;
      RITSU_RETURN_IF_ERROR(WriteJsonFile(mf, metrics));
    }
    if (wrote) {
      out << "preempted at step " << prog.global_step << ": checkpoint-" << prog.global_step
          << " written; resume with --resume auto" << std::endl;
    } else if (!last_checkpoint.empty()) {
      out << "preempted at step " << prog.global_step << ": no step since " << fs::path(last_checkpoint).filename().string()
          << ", nothing new written; resume with --resume auto" << std::endl;
    } else {
      out << "preempted at step 0: no step done, nothing written; resume with --resume auto" << std::endl;
    }
    TrainSummary sum;
    sum.preempted = true;
    sum.steps = prog.global_step;
    return sum;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();

  TrainSummary sum;
  sum.steps = prog.global_step;
  sum.train_loss = prog.global_step > 0 ? prog.loss_sum_all / static_cast<double>(prog.global_step) : 0.0;
  sum.tokens = tokens_this_run;
  sum.seconds = seconds;
  sum.tokens_per_s = seconds > 0 ? static_cast<double>(tokens_this_run) / seconds : 0.0;

  // The final adapter directory (fp32 masters, as peft saves a float32 LoRA). With
  // --load-best-model-at-end it is the best checkpoint's adapter and the final one is kept as
  // OUTPUT/checkpoint-last.
  prog.epoch_float = static_cast<double>(prog.epoch) +
                     static_cast<double>(prog.next_batch) / static_cast<double>(batches_per_epoch);
  const bool use_best = o.load_best_model_at_end && !prog.best.best_checkpoint.empty();
  if (o.load_best_model_at_end) {
    const std::string last_dir = (fs::path(o.output_dir) / "checkpoint-last").string();
    RITSU_RETURN_IF_ERROR(
        dp->OnPrimary([&](LoraNet& net) { return net.ToAdapter(lora).Save(last_dir, engine::DType::kF32); }));
    RITSU_RETURN_IF_ERROR(WriteJsonFile((fs::path(last_dir) / "trainer_state.json").string(), prog.HfTrainerState()));
  }
  if (use_best) {
    RITSU_RETURN_IF_ERROR(CopyAdapterFiles(prog.best.best_checkpoint, o.output_dir));
    out << "train: the adapter in " << o.output_dir << " is the best, " << prog.best.best_checkpoint << " ("
        << o.metric_for_best_model << " " << prog.best.best_metric << "); the last one is in checkpoint-last"
        << std::endl;
  } else {
    RITSU_RETURN_IF_ERROR(
        dp->OnPrimary([&](LoraNet& net) { return net.ToAdapter(lora).Save(o.output_dir, engine::DType::kF32); }));
  }
  RITSU_RETURN_IF_ERROR(CopyTokenizerFiles(o.model_name, o.output_dir));
  RITSU_RETURN_IF_ERROR(WriteJsonFile((fs::path(o.output_dir) / "trainer_state.json").string(), prog.HfTrainerState()));
  // HF's train_results.json: the run's summary (trainer_state.json holds TrainerState only).
  json results = {{"epoch", prog.epoch_float},
                  {"train_loss", sum.train_loss},
                  {"train_runtime", seconds},
                  {"train_tokens_per_second", sum.tokens_per_s},
                  {"train_tokens", sum.tokens},
                  {"global_step", prog.global_step},
                  {"device", device_name},
                  {"replicas", replicas},
                  {"peak_device_memory_bytes", dp->PeakBytes()},  // the largest replica's
                  {"peak_device_reserved_bytes", dp->PeakReservedBytes()}};
  if (prog.best.has_best) {
    results["best_metric"] = prog.best.best_metric;
    results["best_step"] = prog.best.best_step;
  }
  RITSU_RETURN_IF_ERROR(WriteJsonFile((fs::path(o.output_dir) / "train_results.json").string(), results));
  if (o.parity_dump) {
    RITSU_RETURN_IF_ERROR(WriteJsonFile((fs::path(o.output_dir) / "data_order.json").string(), data_order));
  }
  if (const char* mf = std::getenv("RITSU_METRICS_FILE"); mf && *mf) {
    json metrics = {{"train_loss", sum.train_loss}, {"steps", sum.steps}, {"tokens_per_second", sum.tokens_per_s},
                    {"train_runtime", seconds}, {"tokens", sum.tokens}};
    if (prog.best.has_best) {
      metrics["best_metric"] = prog.best.best_metric;
      metrics["best_step"] = prog.best.best_step;
    }
    // The accuracy of the best evaluation and of the last one, where measured.
    for (const auto& h : prog.log_history) {
      if (h.contains("eval_accuracy") && prog.best.has_best && h["step"] == prog.best.best_step) {
        metrics["best_eval_accuracy"] = h["eval_accuracy"];
      }
    }
    if (prog.last_eval.is_object()) {
      for (const char* k : {"eval_accuracy", "eval_loss"}) {
        if (prog.last_eval.contains(k)) metrics[k] = prog.last_eval[k];
      }
    }
    RITSU_RETURN_IF_ERROR(WriteJsonFile(mf, metrics));
  }
  out << "train: done, " << sum.steps << " steps, train_loss " << sum.train_loss << ", " << sum.tokens_per_s
      << " tokens/s, adapter in " << o.output_dir << std::endl;
  return sum;
}

}  // namespace ritsu::train
