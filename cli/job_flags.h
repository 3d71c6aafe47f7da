// The flags of the engine jobs (`ritsu submit|run train|eval|merge`), as the CLI must know them
// to split a command line into queue flags and job flags, and to find the path flags it resolves
// at submit time. The sets mirror engine/train/train_options.cc, engine/eval/eval_driver.cc
// (ParseEvalOptions) and engine/merge/merge_main.cc; the engine stays the authority on values.
//
// The rule (docs/jobs.md): the queue flags are a fixed set of names (kQueueFlags) that no job
// uses, except `--gpus` of train, which is both (it sets the GPU request and is passed on) and
// `--overwrite`, which the CLI honours at submit time and passes on to eval and merge. Every
// other `--flag` belongs to the job; an unknown one is an error with "did you mean".
#pragma once

#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/task.h"

namespace ritsu::cli {

// How the CLI treats a path-valued job flag at submit time.
enum class PathRole {
  kInput,      // must exist (unless the task has --after: a dependency may create it)
  kModel,      // an input that may also be an HF hub id "org/name" (resolved by the engine)
  kOutput,     // must not exist unless --overwrite
  kPath,       // only made absolute (e.g. eval --index, which is built when missing)
};

struct JobFlag {
  std::string name;           // canonical spelling, "--model-name"
  bool takes_value = true;
  PathRole role = PathRole::kPath;
  bool is_path = false;
  std::vector<std::string> aliases;  // other spellings the engine accepts ("--lora-path")
};

struct JobFlagTable {
  TaskKind kind;
  std::vector<JobFlag> flags;
  std::vector<std::string> required;   // canonical names
  std::string model_flag;              // whose config.json sizes the GPU request ("" = none)
  bool engine_has_overwrite = false;   // pass --overwrite on to the engine
  bool engine_has_gpus = false;        // pass --gpus on to the engine
  std::string default_device;          // the device `ritsu submit` assumes when --device is not given ("" = no such flag)
};

const JobFlagTable& JobFlags(TaskKind kind);

// The queue flags of `ritsu submit <kind>`: name -> takes a value.
struct QueueFlag { std::string name; bool takes_value; bool repeatable; std::string value_name, help; };
const std::vector<QueueFlag>& QueueFlags();

// One job flag occurrence after splitting; `flag` is the canonical name.
struct JobArg {
  std::string flag;
  std::string value;  // "" for a switch
  bool has_value = false;
  const JobFlag* def = nullptr;
};

struct SplitArgs {
  std::vector<JobArg> job;
  std::vector<std::pair<std::string, std::string>> queue;  // (name, value or "")
  bool help = false;
  bool overwrite = false;
  bool Has(const std::string& queue_flag) const;
  std::string Get(const std::string& queue_flag, const std::string& fallback = "") const;
  std::vector<std::string> GetAll(const std::string& queue_flag) const;
  const JobArg* Job(const std::string& canonical) const;
};

// Splits `args` (what follows `ritsu submit train`). allow_queue: false for `ritsu run`, where a
// queue flag is an error that says it only applies to submit. Accepts --flag=value and the
// underscore spellings (--model_name) the seed scripts' argparse takes.
Result<SplitArgs> SplitJobArgs(TaskKind kind, const std::vector<std::string>& args, bool allow_queue);

// The engine argv for the job flags (canonical names, values as given/resolved).
std::vector<std::string> EngineArgv(const SplitArgs& s, TaskKind kind);

}  // namespace ritsu::cli
