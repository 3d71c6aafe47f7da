#include "cli/job_flags.h"

#include <fmt/format.h>

#include "cli/args.h"

namespace ritsu::cli {
namespace {

JobFlag V(std::string name) { return JobFlag{std::move(name), true, PathRole::kPath, false, {}}; }
JobFlag B(std::string name) { return JobFlag{std::move(name), false, PathRole::kPath, false, {}}; }
JobFlag P(std::string name, PathRole role, std::vector<std::string> aliases = {}) {
  return JobFlag{std::move(name), true, role, true, std::move(aliases)};
}

JobFlagTable MakeTrain() {
  JobFlagTable t{TaskKind::kTrain, {}, {"--model-name", "--train-file", "--output-dir"}, "--model-name",
                 false, true, "cuda"};  // what `ritsu submit` assumes; the engine's own default is cpu
  t.flags = {P("--model-name", PathRole::kModel), P("--train-file", PathRole::kInput),
             P("--output-dir", PathRole::kOutput), P("--resume", PathRole::kInput),
             P("--eval-file", PathRole::kInput)};
  for (const char* v : {"--num-epochs", "--batch-size", "--learning-rate", "--max-seq-length",
                        "--gradient-accumulation-steps", "--warmup-ratio", "--weight-decay", "--lora-r", "--lora-alpha",
                        "--lora-dropout", "--target-modules", "--bnb-4bit-compute-dtype", "--bnb-4bit-quant-type",
                        "--max-steps-override", "--train-mode", "--logging-steps", "--save-steps", "--seed",
                        "--max-gpu-memory", "--prompt-format", "--lr-scheduler", "--max-grad-norm", "--device",
                        "--gpus", "--on-bad-line", "--eval-strategy", "--eval-steps", "--eval-samples",
                        "--eval-prompt-format", "--eval-max-new-tokens", "--eval-batch-size", "--metric-for-best-model",
                        "--greater-is-better", "--save-total-limit", "--early-stopping-patience",
                        "--early-stopping-threshold"})
    t.flags.push_back(V(v));
  for (const char* b : {"--use-4bit", "--loss-on-output-only", "--do-train", "--use-rslora", "--parity-dump",
                        "--eval-no-rag", "--load-best-model-at-end", "--no-resume"})
    t.flags.push_back(B(b));
  return t;
}

JobFlagTable MakeEval() {
  JobFlagTable t{TaskKind::kEval, {}, {"--data", "--output", "--hf-model-name"}, "--hf-model-name", true, false,
                 "auto"};
  t.flags = {P("--data", PathRole::kInput), P("--output", PathRole::kOutput),
             P("--hf-model-name", PathRole::kModel), P("--hf-lora-path", PathRole::kInput),
             P("--corpus-data", PathRole::kInput), P("--law-xml-dir", PathRole::kInput),
             P("--index", PathRole::kPath)};
  for (const char* v : {"--samples", "--top-k", "--ensemble", "--max-new-tokens", "--seed", "--llm-backend",
                        "--prompt-format", "--rerank-top-n", "--batch-size", "--cot-style", "--device"})
    t.flags.push_back(V(v));
  for (const char* b : {"--no-rag", "--use-cot", "--hf-load-in-4bit", "--few-shot", "--no-few-shot",
                        "--use-reranker"})
    t.flags.push_back(B(b));
  return t;
}

JobFlagTable MakeMerge() {
  JobFlagTable t{TaskKind::kMerge, {}, {"--base", "--lora", "--output"}, "--base", true, false, ""};
  t.flags = {P("--base", PathRole::kModel, {"--base-model", "--model-name"}),
             P("--lora", PathRole::kInput, {"--lora-path", "--lora-dir", "--adapter"}),
             P("--output", PathRole::kOutput, {"--output-dir", "--output-path"}),
             P("--tokenizer", PathRole::kInput)};
  for (const char* v : {"--gguf", "--ollama-name", "--max-shard-size", "--threads"}) t.flags.push_back(V(v));
  return t;
}

// "--model_name" -> "--model-name" (argparse users type either).
std::string Dashed(std::string name) {
  for (size_t i = 2; i < name.size(); ++i)
    if (name[i] == '_') name[i] = '-';
  return name;
}

}  // namespace

const JobFlagTable& JobFlags(TaskKind kind) {
  static const JobFlagTable train = MakeTrain(), eval = MakeEval(), merge = MakeMerge();
  switch (kind) {
    case TaskKind::kTrain: return train;
    case TaskKind::kEval: return eval;
    default: return merge;
  }
}

const std::vector<QueueFlag>& QueueFlags() {
  static const std::vector<QueueFlag> flags = {
      {"--name", true, false, "NAME", "task name (default: the kind and the output's file name)"},
      {"--gpus", true, false, "N", "GPUs the task needs, 0..64; 0 = a CPU slot (default: estimated)"},
      {"--gpu-mem", true, false, "SIZE", "memory each GPU must have, e.g. 20G (default: estimated)"},
      {"--tag", true, true, "T", "a tag the worker must offer"},
      {"--host", true, false, "WORKER", "run only on this worker"},
      {"--priority", true, false, "P", "higher runs first, -1000000..1000000 (default 0)"},
      {"--after", true, true, "ID", "start only after task ID succeeded"},
      {"--max-attempts", true, false, "N", "tries before FAILED, 1..100 (default 1)"},
      {"--timeout", true, false, "DURATION", "kill an attempt after this long, e.g. 2h (at most 365d)"},
      {"--label", true, true, "K=V", "free label"},
      {"--env", true, true, "K=V", "environment variable for the task"},
      {"--overwrite", false, false, "", "accept an output path that exists (replaced by the job)"},
      {"--json", false, false, "", "print {\"id\": N} instead of the bare id"},
  };
  return flags;
}

bool SplitArgs::Has(const std::string& f) const {
  for (const auto& [n, v] : queue)
    if (n == f) return true;
  return false;
}
std::string SplitArgs::Get(const std::string& f, const std::string& fallback) const {
  std::string out = fallback;
  for (const auto& [n, v] : queue)
    if (n == f) out = v;
  return out;
}
std::vector<std::string> SplitArgs::GetAll(const std::string& f) const {
  std::vector<std::string> out;
  for (const auto& [n, v] : queue)
    if (n == f) out.push_back(v);
  return out;
}
const JobArg* SplitArgs::Job(const std::string& canonical) const {
  const JobArg* found = nullptr;
  for (const auto& a : job)
    if (a.flag == canonical) found = &a;
  return found;
}

Result<SplitArgs> SplitJobArgs(TaskKind kind, const std::vector<std::string>& args, bool allow_queue) {
  const JobFlagTable& table = JobFlags(kind);
  const std::string cmd = fmt::format("ritsu {} {}", allow_queue ? "submit" : "run", TaskKindName(kind));
  SplitArgs out;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") { out.help = true; continue; }
    if (a.rfind("--", 0) != 0 || a.size() == 2) {
      if (kind == TaskKind::kMerge && a == "-o") {  // merge's short spelling of --output
        if (i + 1 >= args.size()) return Status::InvalidArgument(cmd + ": -o needs a value");
        out.job.push_back({"--output", args[++i], true, &table.flags[2]});
        continue;
      }
      return Status::InvalidArgument(fmt::format("{}: unexpected argument '{}' (every job setting is a --flag; see {} --help)",
                                                 cmd, a, cmd));
    }
    std::string name = a, value;
    bool has_inline = false;
    if (auto eq = a.find('='); eq != std::string::npos) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
      has_inline = true;
    }
    name = Dashed(name);
    auto take_value = [&](const std::string& flag) -> Result<std::string> {
      if (has_inline) return value;
      if (i + 1 >= args.size()) return Status::InvalidArgument(fmt::format("{}: {} needs a value", cmd, flag));
      return args[++i];
    };

    const JobFlag* job = nullptr;
    for (const auto& f : table.flags) {
      if (f.name == name) job = &f;
      for (const auto& al : f.aliases)
        if (al == name) job = &f;
    }
    const QueueFlag* queue = nullptr;
    for (const auto& q : QueueFlags())
      if (q.name == name) queue = &q;

    if (name == "--overwrite") {
      if (has_inline) return Status::InvalidArgument(cmd + ": --overwrite takes no value");
      out.overwrite = true;
      continue;
    }
    if (queue && name != "--gpus") {
      if (!allow_queue)
        return Status::InvalidArgument(fmt::format("{}: {} is a queue flag; it applies to `ritsu submit {}` only",
                                                   cmd, name, TaskKindName(kind)));
      std::string v;
      if (queue->takes_value) {
        RITSU_ASSIGN_OR_RETURN(v, take_value(name));
      } else if (has_inline) {
        return Status::InvalidArgument(fmt::format("{}: {} takes no value", cmd, name));
      }
      out.queue.emplace_back(name, v);
      continue;
    }
    if (name == "--gpus") {
      // A queue flag; for train also the engine's own --gpus (kept in `job` when >= 1).
      RITSU_ASSIGN_OR_RETURN(std::string v, take_value(name));
      if (allow_queue) out.queue.emplace_back(name, v);
      if (table.engine_has_gpus && v != "0") out.job.push_back({name, v, true, job});
      else if (!allow_queue) return Status::InvalidArgument(cmd + ": --gpus is a queue flag; it applies to `ritsu submit` only");
      continue;
    }
    if (!job) {
      std::vector<std::string> names;
      for (const auto& f : table.flags) names.push_back(f.name);
      if (allow_queue)
        for (const auto& q : QueueFlags()) names.push_back(q.name);
      std::string guess = DidYouMean(name, names);
      return Status::InvalidArgument(fmt::format("{}: unknown flag {}{}; see {} --help", cmd, name,
                                                 guess.empty() ? "" : fmt::format(" (did you mean {}?)", guess), cmd));
    }
    if (job->takes_value) {
      RITSU_ASSIGN_OR_RETURN(std::string v, take_value(name));
      out.job.push_back({job->name, v, true, job});
    } else {
      if (has_inline) return Status::InvalidArgument(fmt::format("{}: {} takes no value", cmd, name));
      out.job.push_back({job->name, "", false, job});
    }
  }
  if (!out.help) {
    for (const auto& r : table.required)
      if (!out.Job(r)) return Status::InvalidArgument(fmt::format("{}: {} is required", cmd, r));
  }
  return out;
}

std::vector<std::string> EngineArgv(const SplitArgs& s, TaskKind kind) {
  std::vector<std::string> argv;
  for (const auto& a : s.job) {
    argv.push_back(a.flag);
    if (a.has_value) argv.push_back(a.value);
  }
  if (s.overwrite && JobFlags(kind).engine_has_overwrite) argv.push_back("--overwrite");
  return argv;
}

}  // namespace ritsu::cli
