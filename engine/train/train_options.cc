#include "engine/train/train_options.h"

#include <cctype>
#include <charconv>
#include <map>
#include <set>
#include <sstream>

#include "engine/model/lora_adapter.h"

namespace ritsu::train {

namespace {

const std::set<std::string> kValueFlags = {
    "model-name", "train-file", "output-dir", "num-epochs", "batch-size", "learning-rate", "max-seq-length",
    "gradient-accumulation-steps", "warmup-ratio", "weight-decay", "lora-r", "lora-alpha", "lora-dropout",
    "target-modules", "bnb-4bit-compute-dtype", "bnb-4bit-quant-type", "max-steps-override", "train-mode",
    "logging-steps", "save-steps", "seed", "resume", "max-gpu-memory", "prompt-format", "lr-scheduler",
    "max-grad-norm", "device", "gpus", "on-bad-line", "random-base-seed", "eval-file", "eval-strategy", "eval-steps",
    "eval-samples", "eval-prompt-format", "eval-max-new-tokens", "eval-batch-size", "metric-for-best-model",
    "greater-is-better", "save-total-limit", "early-stopping-patience", "early-stopping-threshold",
    // HF's older spelling of --eval-strategy.
    "evaluation-strategy"};
const std::set<std::string> kBoolFlags = {"use-4bit", "loss-on-output-only", "do-train", "use-rslora", "parity-dump",
                                          "eval-no-rag", "load-best-model-at-end", "no-resume", "do-eval"};

Result<int64_t> ToInt(const std::string& flag, const std::string& v) {
  int64_t x = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  if (ec != std::errc() || p != v.data() + v.size()) return Status::InvalidArgument("--" + flag + " " + v + ": not an integer");
  return x;
}

Result<double> ToDouble(const std::string& flag, const std::string& v) {
  try {
    size_t used = 0;
    const double x = std::stod(v, &used);
    if (used == v.size()) return x;
  } catch (...) {
  }
  return Status::InvalidArgument("--" + flag + " " + v + ": not a number");
}

// The evaluation, best-checkpoint and early-stopping flags, with HF Trainer's rules (each
// violation names the flags).
Status ParseEvalAndSelection(std::map<std::string, std::string>& v, const std::set<std::string>& bools,
                             TrainOptions* o) {
  auto get_int = [&](const char* f, int64_t* dst, int64_t min) -> Status {
    if (!v.count(f)) return Status::Ok();
    RITSU_ASSIGN_OR_RETURN(*dst, ToInt(f, v[f]));
    if (*dst < min) return Status::InvalidArgument(std::string("--") + f + " " + v[f] + ": must be >= " + std::to_string(min));
    return Status::Ok();
  };
  if (v.count("evaluation-strategy") && !v.count("eval-strategy")) v["eval-strategy"] = v["evaluation-strategy"];
  if (v.count("eval-file")) o->eval_file = v["eval-file"];
  RITSU_RETURN_IF_ERROR(get_int("eval-steps", &o->eval_steps, 1));
  RITSU_RETURN_IF_ERROR(get_int("eval-samples", &o->eval_samples, 0));
  RITSU_RETURN_IF_ERROR(get_int("eval-max-new-tokens", &o->eval_max_new_tokens, 1));
  RITSU_RETURN_IF_ERROR(get_int("eval-batch-size", &o->eval_batch_size, 1));
  RITSU_RETURN_IF_ERROR(get_int("save-total-limit", &o->save_total_limit, 0));
  RITSU_RETURN_IF_ERROR(get_int("early-stopping-patience", &o->early_stopping_patience, 0));
  if (v.count("early-stopping-threshold")) {
    RITSU_ASSIGN_OR_RETURN(o->early_stopping_threshold, ToDouble("early-stopping-threshold", v["early-stopping-threshold"]));
    if (!(o->early_stopping_threshold >= 0)) {
      return Status::InvalidArgument("--early-stopping-threshold " + v["early-stopping-threshold"] + ": must be >= 0");
    }
  }
  o->eval_rag = !bools.count("eval-no-rag");
  o->load_best_model_at_end = bools.count("load-best-model-at-end") > 0;
  o->no_resume = bools.count("no-resume") > 0;
  if (o->no_resume && !o->resume.empty()) return Status::InvalidArgument("--no-resume and --resume exclude each other");
  if (v.count("eval-prompt-format")) o->eval_prompt_format = v["eval-prompt-format"];
  if (o->eval_prompt_format != "plain" && o->eval_prompt_format != "chat") {
    return Status::InvalidArgument("--eval-prompt-format " + o->eval_prompt_format + ": expected plain or chat");
  }
  // --eval-strategy: HF's default is "no"; ritsu infers it from --eval-file / --eval-steps.
  if (v.count("eval-strategy")) {
    o->eval_strategy = v["eval-strategy"];
  } else if (!o->eval_file.empty()) {
    o->eval_strategy = v.count("eval-steps") ? "steps" : "epoch";
  }
  if (o->eval_strategy != "no" && o->eval_strategy != "steps" && o->eval_strategy != "epoch") {
    return Status::InvalidArgument("--eval-strategy " + o->eval_strategy + ": expected steps, epoch or no");
  }
  if (o->eval_strategy != "no" && o->eval_file.empty()) {
    return Status::InvalidArgument("--eval-strategy " + o->eval_strategy + " needs --eval-file");
  }
  if (o->eval_strategy == "steps" && o->eval_steps == 0) o->eval_steps = o->logging_steps;  // HF's fallback
  const bool evaluating = o->eval_strategy != "no";
  // The metric: HF accepts "accuracy" for "eval_accuracy".
  if (v.count("metric-for-best-model")) {
    o->metric_for_best_model = v["metric-for-best-model"];
    if (o->metric_for_best_model.rfind("eval_", 0) != 0) o->metric_for_best_model = "eval_" + o->metric_for_best_model;
    if (o->metric_for_best_model != "eval_accuracy" && o->metric_for_best_model != "eval_loss") {
      return Status::InvalidArgument("--metric-for-best-model " + v["metric-for-best-model"] +
                                     ": expected eval_accuracy or eval_loss");
    }
  } else if (evaluating) {
    o->metric_for_best_model = IsLawqaEvalFile(o->eval_file) ? "eval_accuracy" : "eval_loss";
  }
  if (o->metric_for_best_model == "eval_accuracy" && evaluating && !IsLawqaEvalFile(o->eval_file)) {
    return Status::InvalidArgument("--metric-for-best-model eval_accuracy needs a lawqa_jp --eval-file (.json); " +
                                   o->eval_file + " is fine-tuning JSONL, which gives eval_loss only");
  }
  // HF: greater_is_better defaults to "the metric does not end in loss".
  o->greater_is_better = o->metric_for_best_model.size() < 4 ||
                         o->metric_for_best_model.compare(o->metric_for_best_model.size() - 4, 4, "loss") != 0;
  if (v.count("greater-is-better")) {
    const std::string& g = v["greater-is-better"];
    if (g == "true" || g == "True" || g == "1") o->greater_is_better = true;
    else if (g == "false" || g == "False" || g == "0") o->greater_is_better = false;
    else return Status::InvalidArgument("--greater-is-better " + g + ": expected true or false");
  }
  for (const char* f : {"metric-for-best-model", "early-stopping-patience", "early-stopping-threshold"}) {
    if (v.count(f) && !evaluating) return Status::InvalidArgument(std::string("--") + f + " needs --eval-file");
  }
  if (o->load_best_model_at_end && !evaluating) {
    return Status::InvalidArgument("--load-best-model-at-end needs --eval-file (and --eval-strategy steps|epoch)");
  }
  return Status::Ok();
}

}  // namespace

std::string TrainUsage() {
  return "usage: ritsu-engine train --model-name DIR --train-file FILE.jsonl --output-dir DIR [options]\n"
         "  data:  --train-mode direct|cot|auto  --prompt-format plain|chat  --max-seq-length N\n"
         "         --loss-on-output-only  --on-bad-line fail|skip\n"
         "  lora:  --lora-r N --lora-alpha A --lora-dropout P --target-modules q_proj,v_proj|all-linear --use-rslora\n"
         "  opt:   --num-epochs N --batch-size N --gradient-accumulation-steps N --learning-rate LR\n"
         "         --weight-decay WD --warmup-ratio R --lr-scheduler linear|cosine|constant --max-grad-norm G\n"
         "         --max-steps-override N --seed S\n"
         "  base:  --use-4bit --bnb-4bit-quant-type nf4 --bnb-4bit-compute-dtype bfloat16|float16|float32\n"
         "  run:   --logging-steps N --save-steps N --save-total-limit N --resume CHECKPOINT_DIR|auto --no-resume\n"
         "         --device cpu|cuda[:K] --gpus N|all --max-gpu-memory SIZE --do-train (accepted, implied)\n"
         "  eval:  --eval-file SPLIT.json|FT.jsonl --eval-strategy steps|epoch|no --eval-steps N --eval-samples K\n"
         "         --eval-prompt-format plain|chat --eval-max-new-tokens N --eval-batch-size N --eval-no-rag\n"
         "         --metric-for-best-model eval_accuracy|eval_loss --greater-is-better true|false\n"
         "         --load-best-model-at-end --early-stopping-patience P --early-stopping-threshold T\n"
         "  test:  --parity-dump (initial adapter + data order for tests/parity/train_parity.py)\n"
         "  bench: --random-base-seed S (frozen base = make-model's random weights for seed S, drawn in memory;\n"
         "         the model directory needs only config.json + tokenizer: make-model --config-only)\n"
         "  env:   RITSU_METRICS_FILE=path receives the final metrics as JSON;\n"
         "         RITSU_METRICS_SERIES=path receives one JSON record per progress line and evaluation\n"
         "  exit:  0 done, 2 bad flags or input, 75 preempted by SIGTERM/SIGINT (checkpoint written), 1 failure\n";
}

Result<std::vector<std::string>> ParseTargetModules(const std::string& value) {
  std::vector<std::string> valid;
  for (auto m : engine::kAllLinearModules) valid.push_back(engine::LinearModuleName(m));
  if (value == "all-linear") return valid;
  std::vector<std::string> out;
  std::stringstream ss(value);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    bool ok = false;
    for (const auto& v : valid) ok = ok || v == item;
    if (!ok) {
      std::string list;
      for (const auto& v : valid) list += (list.empty() ? "" : ", ") + v;
      return Status::InvalidArgument("--target-modules: unknown module \"" + item + "\"; valid: " + list + ", all-linear");
    }
    bool dup = false;
    for (const auto& o : out) dup = dup || o == item;
    if (!dup) out.push_back(item);
  }
  if (out.empty()) return Status::InvalidArgument("--target-modules: empty list");
  return out;
}

bool IsLawqaEvalFile(const std::string& path) {
  return !(path.size() >= 6 && path.compare(path.size() - 6, 6, ".jsonl") == 0);
}

Result<uint64_t> ParseByteSize(const std::string& flag, const std::string& value) {
  size_t used = 0;
  double x = 0;
  try {
    x = std::stod(value, &used);
  } catch (...) {
    return Status::InvalidArgument("--" + flag + " " + value + ": expected a size like 10G or 512M");
  }
  std::string unit = value.substr(used);
  for (char& ch : unit) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  double mul = 1;
  if (unit == "" || unit == "B") mul = 1;
  else if (unit == "K" || unit == "KB" || unit == "KIB") mul = 1024.0;
  else if (unit == "M" || unit == "MB" || unit == "MIB") mul = 1024.0 * 1024;
  else if (unit == "G" || unit == "GB" || unit == "GIB") mul = 1024.0 * 1024 * 1024;
  else return Status::InvalidArgument("--" + flag + " " + value + ": unknown unit \"" + unit + "\" (use K, M or G)");
  if (!(x > 0)) return Status::InvalidArgument("--" + flag + " " + value + ": must be positive");
  return static_cast<uint64_t>(x * mul);
}

Result<TrainOptions> ParseTrainArgs(int argc, char** argv) {
  std::map<std::string, std::string> v;
  std::set<std::string> bools;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") return Status::NotFound(TrainUsage());
    if (a.rfind("--", 0) != 0) return Status::InvalidArgument("unexpected argument \"" + a + "\"\n" + TrainUsage());
    a = a.substr(2);
    std::string value;
    bool has_value = false;
    if (auto eq = a.find('='); eq != std::string::npos) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
      has_value = true;
    }
    // Underscore spellings (--model_name) as Python's argparse users type them.
    for (char& ch : a) ch = ch == '_' ? '-' : ch;
    if (kBoolFlags.count(a)) {
      if (has_value) return Status::InvalidArgument("--" + a + " takes no value");
      bools.insert(a);
    } else if (kValueFlags.count(a)) {
      if (!has_value) {
        if (i + 1 >= argc) return Status::InvalidArgument("--" + a + " needs a value");
        value = argv[++i];
      }
      v[a] = value;
    } else {
      return Status::InvalidArgument("unknown flag --" + a + "\n" + TrainUsage());
    }
  }
  TrainOptions o;
  auto req = [&](const char* f, std::string* dst) -> Status {
    if (!v.count(f) || v[f].empty()) return Status::InvalidArgument(std::string("--") + f + " is required");
    *dst = v[f];
    return Status::Ok();
  };
  RITSU_RETURN_IF_ERROR(req("model-name", &o.model_name));
  RITSU_RETURN_IF_ERROR(req("train-file", &o.train_file));
  RITSU_RETURN_IF_ERROR(req("output-dir", &o.output_dir));
  auto get_int = [&](const char* f, int64_t* dst, int64_t min) -> Status {
    if (!v.count(f)) return Status::Ok();
    RITSU_ASSIGN_OR_RETURN(*dst, ToInt(f, v[f]));
    if (*dst < min) return Status::InvalidArgument(std::string("--") + f + " " + v[f] + ": must be >= " + std::to_string(min));
    return Status::Ok();
  };
  auto get_double = [&](const char* f, double* dst, double lo, double hi) -> Status {
    if (!v.count(f)) return Status::Ok();
    RITSU_ASSIGN_OR_RETURN(*dst, ToDouble(f, v[f]));
    if (!(*dst >= lo && *dst <= hi)) {
      return Status::InvalidArgument(std::string("--") + f + " " + v[f] + ": must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    }
    return Status::Ok();
  };
  RITSU_RETURN_IF_ERROR(get_int("num-epochs", &o.num_epochs, 1));
  RITSU_RETURN_IF_ERROR(get_int("batch-size", &o.batch_size, 1));
  RITSU_RETURN_IF_ERROR(get_int("max-seq-length", &o.max_seq_length, 2));
  RITSU_RETURN_IF_ERROR(get_int("gradient-accumulation-steps", &o.gradient_accumulation_steps, 1));
  RITSU_RETURN_IF_ERROR(get_int("lora-r", &o.lora_r, 1));
  RITSU_RETURN_IF_ERROR(get_int("max-steps-override", &o.max_steps_override, 0));
  RITSU_RETURN_IF_ERROR(get_int("logging-steps", &o.logging_steps, 1));
  RITSU_RETURN_IF_ERROR(get_int("save-steps", &o.save_steps, 0));
  // --gpus all (or 0): every visible GPU, resolved by the trainer (data_parallel.h).
  if (v.count("gpus") && v["gpus"] == "all") {
    o.gpus = 0;
  } else {
    RITSU_RETURN_IF_ERROR(get_int("gpus", &o.gpus, 0));
  }
  if (v.count("random-base-seed")) RITSU_RETURN_IF_ERROR(get_int("random-base-seed", &o.random_base_seed, 0));
  int64_t seed = 42;
  RITSU_RETURN_IF_ERROR(get_int("seed", &seed, 0));
  o.seed = static_cast<uint64_t>(seed);
  RITSU_RETURN_IF_ERROR(get_double("learning-rate", &o.learning_rate, 0.0, 1e300));
  RITSU_RETURN_IF_ERROR(get_double("warmup-ratio", &o.warmup_ratio, 0.0, 1.0));
  RITSU_RETURN_IF_ERROR(get_double("weight-decay", &o.weight_decay, 0.0, 1e6));
  RITSU_RETURN_IF_ERROR(get_double("lora-alpha", &o.lora_alpha, 1e-12, 1e12));
  RITSU_RETURN_IF_ERROR(get_double("lora-dropout", &o.lora_dropout, 0.0, 0.999));
  RITSU_RETURN_IF_ERROR(get_double("max-grad-norm", &o.max_grad_norm, 0.0, 1e12));
  if (v.count("target-modules")) {
    RITSU_ASSIGN_OR_RETURN(o.target_modules, ParseTargetModules(v["target-modules"]));
  }
  o.use_4bit = bools.count("use-4bit") > 0;
  o.loss_on_output_only = bools.count("loss-on-output-only") > 0;
  o.use_rslora = bools.count("use-rslora") > 0;
  o.parity_dump = bools.count("parity-dump") > 0;
  if (v.count("bnb-4bit-quant-type")) o.bnb_4bit_quant_type = v["bnb-4bit-quant-type"];
  if (o.bnb_4bit_quant_type != "nf4") {
    return Status::InvalidArgument("--bnb-4bit-quant-type " + o.bnb_4bit_quant_type +
                                   ": only nf4 is implemented (fp4 is not)");
  }
  if (v.count("bnb-4bit-compute-dtype")) o.bnb_4bit_compute_dtype = v["bnb-4bit-compute-dtype"];
  if (o.bnb_4bit_compute_dtype != "bfloat16" && o.bnb_4bit_compute_dtype != "float16" &&
      o.bnb_4bit_compute_dtype != "float32") {
    return Status::InvalidArgument("--bnb-4bit-compute-dtype " + o.bnb_4bit_compute_dtype +
                                   ": expected bfloat16, float16 or float32");
  }
  if (v.count("train-mode")) o.train_mode = v["train-mode"];
  if (o.train_mode != "direct" && o.train_mode != "cot" && o.train_mode != "auto") {
    return Status::InvalidArgument("--train-mode " + o.train_mode + ": expected direct, cot or auto");
  }
  if (v.count("prompt-format")) {
    const std::string& f = v["prompt-format"];
    if (f == "plain") o.prompt_format = PromptFormat::kPlain;
    else if (f == "chat") o.prompt_format = PromptFormat::kChat;
    else return Status::InvalidArgument("--prompt-format " + f + ": expected plain or chat");
  }
  if (v.count("lr-scheduler")) o.lr_scheduler = v["lr-scheduler"];
  if (o.lr_scheduler != "linear" && o.lr_scheduler != "cosine" && o.lr_scheduler != "constant") {
    return Status::InvalidArgument("--lr-scheduler " + o.lr_scheduler + ": expected linear, cosine or constant");
  }
  if (v.count("on-bad-line")) {
    const std::string& p = v["on-bad-line"];
    if (p == "fail") o.on_bad_line = BadLinePolicy::kFail;
    else if (p == "skip") o.on_bad_line = BadLinePolicy::kSkip;
    else return Status::InvalidArgument("--on-bad-line " + p + ": expected fail or skip");
  }
  if (v.count("device")) o.device = v["device"];
  if (o.device.rfind("cuda:", 0) == 0) {
    RITSU_ASSIGN_OR_RETURN(int64_t ord, ToInt("device", o.device.substr(5)));
    o.device_ordinal = static_cast<int>(ord);
    o.device = "cuda";
  }
  if (o.device != "cpu" && o.device != "cuda") return Status::InvalidArgument("--device " + o.device + ": expected cpu, cuda or cuda:N");
  if (v.count("resume")) o.resume = v["resume"];
  if (v.count("max-gpu-memory")) {
    o.max_gpu_memory = v["max-gpu-memory"];
    RITSU_ASSIGN_OR_RETURN(o.max_gpu_memory_bytes, ParseByteSize("max-gpu-memory", o.max_gpu_memory));
  }
  RITSU_RETURN_IF_ERROR(ParseEvalAndSelection(v, bools, &o));
  return o;
}

}  // namespace ritsu::train
