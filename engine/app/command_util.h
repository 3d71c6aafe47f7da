// Helpers shared by the engine's subcommands: loading a model with the common flags, reading
// prompt files, reporting errors and memory.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "engine/app/flags.h"
#include "engine/model/backend.h"
#include "engine/model/model.h"
#include "engine/tokenizer/tokenizer.h"

namespace ritsu::engine::app {

// Prints "ritsu-engine <cmd>: <message>" to stderr and returns the exit code:
// 2 for bad input/usage (InvalidArgument, NotFound, FailedPrecondition), 1 otherwise.
int Fail(const char* command, const Status& status);

// One prompt as given: text, or token ids (JSONL lines that are arrays of ints).
struct PromptInput {
  std::optional<std::string> text;
  std::vector<int32_t> ids;
};

// Reads a JSONL file: each non-empty line is a JSON string (text), an array of token ids, or an
// object with "prompt" (string) or "ids" (array). Errors name the file and line.
Result<std::vector<PromptInput>> ReadPromptsFile(const std::string& path);

// Turns prompts into ids: text through the tokenizer (wrapped in the chat template as one user
// message when `chat`, Qwen3 thinking disabled), ids as given.
Result<std::vector<std::vector<int32_t>>> EncodePrompts(const std::vector<PromptInput>& prompts,
                                                        const tokenizer::Tokenizer* tok, bool chat,
                                                        const std::string& system_prompt);

// The flags every model-running subcommand takes.
inline const char* const kModelValueFlags[] = {"model", "lora", "device"};
inline const char* const kModelBoolFlags[] = {"load-in-4bit", "hf-load-in-4bit"};

struct LoadedModel {
  std::unique_ptr<Backend> backend;
  std::unique_ptr<Model> model;
};
Result<LoadedModel> LoadModelFromFlags(const Flags& flags);

// Peak memory line for stderr: backend high-water mark and the process's max RSS.
std::string MemoryReport(const Backend& backend);

}  // namespace ritsu::engine::app
