// The eval job's backends over ritsu's own engine: a TextGenerator on engine::GenerateBatch
// (model from --hf-model-name, PEFT adapter from --hf-lora-path, NF4 with --hf-load-in-4bit,
// device from --device), the tokenizer's chat template for --prompt-format chat, and an LLM
// relevance scorer for --use-reranker. Library ritsu_eval_engine (it links the model and
// tokenizer; ritsu_eval itself does not).
#pragma once

#include "engine/eval/eval_driver.h"

namespace ritsu::eval {

EvalBackends MakeEngineEvalBackends();

// ritsu-engine's `eval` subcommand: registers MakeEngineEvalBackends() and runs EvalMain.
int EngineEvalMain(int argc, char** argv);

}  // namespace ritsu::eval
