#include "engine/app/subcommands.h"

#include "engine/tokenizer/tools.h"
#if defined(RITSU_ENGINE_WITH_TRAIN)
#include "engine/train/train_main.h"
#endif
#if defined(RITSU_ENGINE_WITH_MERGE)
#include "engine/merge/merge_cli.h"
#endif
#if defined(RITSU_ENGINE_WITH_EVAL)
#include "engine/eval/engine_generator.h"
#include "engine/eval/ft_builder.h"
#include "engine/eval/rescore_compare.h"
#endif

namespace ritsu::engine::app {

static const Subcommand kSubcommands[] = {
    {"make-model", MakeModelMain, "write an HF model directory with random Qwen2/Qwen3 weights"},
    {"generate", GenerateMain, "generate text from a prompt or a JSONL file of prompts"},
    {"logits", LogitsMain, "dump the logits of prompts to a .npy file (parity harness)"},
    {"inspect", InspectMain, "print a model directory's config and tensor table"},
    {"tokenize", ritsu::tokenizer::TokenizeToolMain, "JSON strings on stdin -> JSON id arrays on stdout"},
    {"detokenize", ritsu::tokenizer::DetokenizeToolMain, "JSON id arrays on stdin -> JSON strings on stdout"},
#if defined(RITSU_ENGINE_WITH_EVAL)
    {"eval", ritsu::eval::EngineEvalMain, "lawqa_jp multiple-choice evaluation, optional BM25 RAG"},
    {"data", ritsu::eval::DataToolMain, "lawqa_jp data tools: split, build-ft, stats, build-index"},
    {"rescore", ritsu::eval::RescoreMain, "re-parse the responses of an evaluation output"},
    {"compare", ritsu::eval::CompareMain, "compare evaluation outputs (intervals, McNemar)"},
#endif
#if defined(RITSU_ENGINE_WITH_TRAIN)
    {"train", ritsu::train::TrainMain, "LoRA / QLoRA fine-tuning (engine/train)"},
#endif
#if defined(RITSU_ENGINE_WITH_MERGE)
    {"merge", ritsu::merge::MergeMain, "merge a LoRA adapter; GGUF export, Ollama Modelfile"},
    {"gguf-inspect", ritsu::merge::GgufInspectMain, "print / verify a GGUF file"},
#endif
};

std::span<const Subcommand> Subcommands() { return kSubcommands; }

}  // namespace ritsu::engine::app
