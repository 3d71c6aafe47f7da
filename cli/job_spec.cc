#include "cli/job_spec.h"

#include <algorithm>
#include <filesystem>
#include <regex>

#include <fmt/format.h>

#include "cli/commands.h"
#include "common/gpu_estimate.h"
#include "common/spec_check.h"
#include "common/units.h"

namespace ritsu::cli {
namespace fs = std::filesystem;

bool LooksLikeHubId(const std::string& v) {
  static const std::regex hub(R"([A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*)");
  return std::regex_match(v, hub) && v.find("..") == std::string::npos;
}

Status ResolveJobPaths(SplitArgs* s, const std::string& cwd, bool has_deps, std::vector<std::string>* notes) {
  for (JobArg& a : s->job) {
    if (!a.def || !a.def->is_path || !a.has_value) continue;
    if (a.value.empty()) return Status::InvalidArgument(a.flag + ": empty path");
    if (a.flag == "--resume" && a.value == "auto") continue;  // train: newest checkpoint in --output-dir
    const fs::path given(a.value);
    const fs::path abs = (given.is_absolute() ? given : fs::path(cwd) / given).lexically_normal();
    std::error_code ec;
    const bool exists = fs::exists(abs, ec);
    switch (a.def->role) {
      case PathRole::kPath:
        break;
      case PathRole::kOutput:
        if (exists && !s->overwrite)
          return Status::AlreadyExists(fmt::format("{} {}: already exists; pass --overwrite to replace it, or choose another path",
                                                   a.flag, abs.string()));
        break;
      case PathRole::kModel:
        if (!exists && !given.is_absolute() && LooksLikeHubId(a.value)) {
          notes->push_back(fmt::format("{} {}: no such local path; passed on as a Hugging Face hub id", a.flag, a.value));
          continue;
        }
        [[fallthrough]];
      case PathRole::kInput:
        if (!exists) {
          if (!has_deps)
            return Status::NotFound(fmt::format("{} {}: no such file or directory{}", a.flag, abs.string(),
                                                given.is_absolute() ? "" : fmt::format(" (relative to {})", cwd)));
          notes->push_back(fmt::format("{} {}: does not exist yet; expected from a dependency (--after)", a.flag, abs.string()));
        }
        break;
    }
    a.value = abs.string();
  }
  return Status::Ok();
}

namespace {

int64_t IntOr(const SplitArgs& s, const std::string& flag, int64_t fallback) {
  const JobArg* a = s.Job(flag);
  if (!a) return fallback;
  try {
    return std::stoll(a->value);
  } catch (const std::exception&) {
    return fallback;  // the engine reports the bad value with its own message
  }
}

// Whether the job runs on a CPU per its own flags: an explicit --device cpu, or the kind's
// submit-time default device (JobFlagTable::default_device) being cpu.
bool RunsOnCpu(TaskKind kind, const SplitArgs& s) {
  const JobFlagTable& t = JobFlags(kind);
  if (t.default_device.empty()) return kind == TaskKind::kMerge;  // merge computes on the CPU
  const JobArg* d = s.Job("--device");
  return (d ? d->value : t.default_device) == "cpu";
}

EstimateOptions OptionsFor(TaskKind kind, const SplitArgs& s) {
  EstimateOptions o;
  o.kind = kind;
  if (kind == TaskKind::kTrain) {
    o.nf4 = s.Job("--use-4bit") != nullptr;
    o.batch = IntOr(s, "--batch-size", 1);
    o.seq = IntOr(s, "--max-seq-length", 1024);
    o.lora_r = IntOr(s, "--lora-r", 8);
    if (const JobArg* t = s.Job("--target-modules")) {
      o.lora_targets = t->value == "all-linear" ? 7 : 1 + int64_t(std::count(t->value.begin(), t->value.end(), ','));
    }
  } else {
    o.nf4 = s.Job("--hf-load-in-4bit") != nullptr;
    o.batch = IntOr(s, "--batch-size", 8);
    // RAG prompts (3 statute passages + question) run to ~1.5k tokens; CoT adds up to 1k new ones.
    o.seq = 1536 + IntOr(s, "--max-new-tokens", s.Job("--use-cot") ? 1024 : 16);
  }
  return o;
}

}  // namespace

Result<JobRequest> BuildJobSpec(TaskKind kind, SplitArgs s, const std::string& cwd) {
  JobRequest req;
  RITSU_RETURN_IF_ERROR(ResolveJobPaths(&s, cwd, s.Has("--after"), &req.notes));

  // The queue flags go through the same checks as `submit exec`.
  ParsedArgs pa;
  for (const auto& [n, v] : s.queue) pa.values[n].push_back(v);
  pa.values.erase("--overwrite");
  pa.rest = EngineArgv(s, kind);
  pa.rest.insert(pa.rest.begin(), TaskKindName(kind));  // BuildExecSpec wants a non-empty command
  RITSU_ASSIGN_OR_RETURN(TaskSpec spec, BuildExecSpec(pa, cwd));
  spec.argv.erase(spec.argv.begin());
  spec.kind = kind;
  // A queued train task continues from its newest checkpoint when it is retried or requeued
  // (preempted, worker lost); --no-resume starts it over (docs/training.md, "Resume").
  if (kind == TaskKind::kTrain && !s.Job("--resume") && !s.Job("--no-resume")) {
    spec.argv.insert(spec.argv.end(), {"--resume", "auto"});
  }
  if (!s.Has("--name")) {
    const JobFlagTable& t = JobFlags(kind);
    std::string out;
    for (const auto& f : t.flags)
      if (f.role == PathRole::kOutput && s.Job(f.name)) out = fs::path(s.Job(f.name)->value).filename().string();
    // From a path, which may be any bytes: make it a valid name.
    spec.name = ToShownText(out.empty() ? TaskKindName(kind) : fmt::format("{} {}", TaskKindName(kind), out), kMaxNameBytes);
  }

  // Resources: what the user said, else CPU when the job runs on a CPU, else 1 GPU of the
  // estimated size.
  const bool cpu = s.Has("--gpus") ? spec.resources.gpus == 0 : RunsOnCpu(kind, s);
  if (cpu) {
    if (s.Has("--gpus") && spec.resources.gpus == 0 && kind != TaskKind::kMerge &&
        !JobFlags(kind).default_device.empty() && !s.Job("--device")) {
      spec.argv.insert(spec.argv.end(), {"--device", "cpu"});  // a CPU slot must not touch a GPU
    }
    spec.resources.gpus = 0;
    spec.resources.gpu_mem_bytes = 0;
    req.notes.push_back("resources: a CPU slot");
  } else {
    if (!s.Has("--gpus")) spec.resources.gpus = 1;
    // `ritsu-engine train` computes on the CPU unless told otherwise: a task that holds a GPU slot
    // must use it (the lab's seed command lines name no device).
    if (kind == TaskKind::kTrain && !s.Job("--device")) spec.argv.insert(spec.argv.end(), {"--device", "cuda"});
    if (!s.Has("--gpu-mem")) {
      const JobArg* model = s.Job(JobFlags(kind).model_flag);
      auto shape = model ? ReadModelShape(model->value) : Result<ModelShape>(Status::NotFound("no model flag"));
      if (shape.ok()) {
        Estimate e = EstimateGpuMemory(*shape, OptionsFor(kind, s));
        spec.resources.gpu_mem_bytes = e.bytes;
        req.notes.push_back(fmt::format("resources: {} GPU x {} (estimate: {})", spec.resources.gpus,
                                        FormatSize(e.bytes), e.breakdown));
      } else {
        req.notes.push_back(fmt::format("resources: {} GPU, memory not estimated ({}); give --gpu-mem to be sure",
                                        spec.resources.gpus, shape.status().message()));
      }
    }
  }
  RITSU_RETURN_IF_ERROR(ValidateSpec(spec, ""));  // again: the engine argv was changed above
  req.spec = std::move(spec);
  return req;
}

}  // namespace ritsu::cli
