// `ritsu submit train|eval|merge`: from the split command line to the TaskSpec sent to ritsud.
// Path flags are made absolute against the submitter's working directory (the worker may run
// elsewhere), inputs are checked to exist, existing outputs are refused without --overwrite, and
// the GPU request is estimated from the model's config.json when the user gives none.
#pragma once

#include <string>
#include <vector>

#include "cli/job_flags.h"
#include "common/status.h"
#include "common/task.h"

namespace ritsu::cli {

struct JobRequest {
  TaskSpec spec;
  std::vector<std::string> notes;  // what the CLI decided for the user (estimate, paths left to deps)
};

// The job flags' paths made absolute and checked. has_deps: the task waits on --after, so a
// missing input may still be created by a dependency (a note, not an error).
Status ResolveJobPaths(SplitArgs* s, const std::string& cwd, bool has_deps, std::vector<std::string>* notes);

// The queue flags (--name, --gpus, ...) and the resource estimate applied to a spec.
Result<JobRequest> BuildJobSpec(TaskKind kind, SplitArgs s, const std::string& cwd);

// "org/name" as the HF hub spells model ids (kept as is when no such local path exists).
bool LooksLikeHubId(const std::string& v);

}  // namespace ritsu::cli
