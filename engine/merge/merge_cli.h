// ritsu-engine subcommands of engine/merge (argv[0] is the subcommand name):
//
//   merge --base DIR --lora DIR --output DIR [--gguf f16|bf16|q8_0|q4_k_m]
//         [--ollama-name NAME] [--overwrite] [--tokenizer DIR] [--max-shard-size 5GB] [--threads N]
//     seed-script spellings accepted: --base-model/--base_model/--model-name, --lora-path/
//     --lora_path/--adapter, --output-dir/--output_dir/--output-path/-o.
//   gguf-inspect FILE [--verify-against DIR] [--all-tensors]
//
// Exit status: 0 success, 1 the job failed (message on stderr), 2 bad command line.
// Both write their final metrics as one JSON object to $RITSU_METRICS_FILE when it is set.
#pragma once

namespace ritsu::merge {

int MergeMain(int argc, char** argv);
int GgufInspectMain(int argc, char** argv);

}  // namespace ritsu::merge
