// The eval job's backends over ritsu's own engine: a TextGenerator on engine::GenerateBatch
// (model from --hf-model-name, PEFT adapter from --hf-lora-path, NF4 with --hf-load-in-4bit,
// device from --device), the tokenizer's chat template for --prompt-format chat, and an LLM
// relevance scorer for --use-reranker. Library ritsu_eval_engine (it links the model and
// tokenizer; ritsu_eval itself does not).
#pragma once

#include "engine/eval/eval_driver.h"
#include "engine/model/lora_adapter.h"

namespace ritsu::eval {

EvalBackends MakeEngineEvalBackends();

// The generator `ritsu-engine eval` builds for --hf-model-name (and --hf-load-in-4bit, --device),
// with `adapter` in place of --hf-lora-path: the in-training evaluation of `ritsu-engine train`
// (the adapter is the trainer's fp32 masters, the same numbers its checkpoint stores).
Result<std::unique_ptr<TextGenerator>> MakeEngineGenerator(const EvalOptions& options,
                                                           const engine::LoraAdapter& adapter);

// ritsu-engine's `eval` subcommand: registers MakeEngineEvalBackends() and runs EvalMain.
int EngineEvalMain(int argc, char** argv);

}  // namespace ritsu::eval
