// Fine-tuning JSONL lines: {"input": prompt, "output": target, "meta": {...}}.
//  - direct: input = the eval's direct prompt (without the one-shot example, which would only
//    be memorised), output = the answer letter;
//  - cot: input = the eval's detailed CoT prompt, output = a templated rationale quoting the
//    chosen choice and the statute, then "Answer: x" (the dataset has no gold rationales;
//    docs/eval.md explains the template).
// with_context puts the sample's own コンテキスト in the 【法令条文】 block; without it the
// model learns to answer from memory (the lab's "norag" files).
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/eval/dataset.h"

namespace ritsu::eval {

enum class FtMode { kDirect, kCot };

nlohmann::json BuildFtRecord(const Sample& sample, FtMode mode, bool with_context);

// DataToolMain(argc, argv): argv[0] = "data", argv[1] = split | build-ft | stats | build-index.
int DataToolMain(int argc, char** argv);
int DataToolMainWith(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace ritsu::eval
