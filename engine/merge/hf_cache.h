// Resolving a model argument the way the lab's scripts accept it: a local directory, or a
// Hugging Face hub id ("Qwen/Qwen3-8B") already present in the local HF cache
// ($HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub:
// models--Qwen--Qwen3-8B/snapshots/<refs/main>). Nothing is downloaded.
#pragma once

#include <string>

#include "common/status.h"

namespace ritsu::merge {

// `flag` names the option in the error ("--base Qwen/Qwen3-8B is neither a directory nor ...").
Result<std::string> ResolveModelDir(const std::string& arg, const std::string& flag);

}  // namespace ritsu::merge
