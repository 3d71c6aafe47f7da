// ritsu-engine merge / gguf-inspect: command lines around lora_merge.h and gguf_reader.h.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/merge/cli_flags.h"
#include "engine/merge/gguf_reader.h"
#include "engine/merge/gguf_verify.h"
#include "engine/merge/hf_cache.h"
#include "engine/merge/lora_merge.h"
#include "engine/merge/merge_cli.h"
#include "engine/merge/ollama_modelfile.h"

namespace ritsu::merge {
namespace {

constexpr const char* kMergeUsage = R"(usage: ritsu-engine merge --base DIR --lora DIR --output DIR [options]

Merges a PEFT LoRA adapter into its bf16/fp16 base model (W + scale*B*A in fp32, written in the
base dtype) and writes an HF model directory: sharded safetensors + index, config.json,
generation_config.json, tokenizer files.

  --base DIR            base model directory or cached HF hub id (alias --base-model, --model-name)
  --lora DIR            PEFT adapter directory (alias --lora-path, --adapter)
  --output DIR          merged model directory (alias --output-dir, --output-path, -o)
  --gguf TYPE           also write DIR/model-TYPE.gguf; TYPE is f16, bf16, q8_0 or q4_k_m
  --ollama-name NAME    also write DIR/Modelfile and run `ollama create NAME` (implies
                        --gguf q4_k_m unless --gguf is given); prints the command when
                        ollama is not on PATH
  --overwrite           replace an existing --output
  --tokenizer DIR       take tokenizer files from DIR when the base has none
  --max-shard-size N    safetensors shard size (default 5GB)
  --threads N           worker threads (default: all cores)
)";

constexpr const char* kInspectUsage = R"(usage: ritsu-engine gguf-inspect FILE [--verify-against DIR]

Prints a GGUF file's header, metadata and tensor table. With --verify-against, decodes every
tensor and checks it against the HF model directory it was made from, within each type's
documented error bound (docs/merge.md); exit 1 on the first mismatch.
)";

int UsageError(const std::string& message, const char* usage) {
  std::fprintf(stderr, "ritsu-engine: %s\n\n%s", message.c_str(), usage);
  return 2;
}

int Fail(const char* what, const Status& s) {
  std::fprintf(stderr, "ritsu-engine %s: %s\n", what, s.ToString().c_str());
  return 1;
}

std::string HumanBytes(uint64_t b) {
  if (b >= (uint64_t{1} << 30)) return fmt::format("{:.2f} GiB", b / double(uint64_t{1} << 30));
  if (b >= (uint64_t{1} << 20)) return fmt::format("{:.1f} MiB", b / double(uint64_t{1} << 20));
  return fmt::format("{} bytes", b);
}

}  // namespace

int MergeMain(int argc, char** argv) {
  FlagSpec spec;
  for (const char* s : {"--base", "--base-model", "--base_model", "--model-name", "--model_name"}) spec.value_flags[s] = "base";
  for (const char* s : {"--lora", "--lora-path", "--lora_path", "--lora-dir", "--adapter"}) spec.value_flags[s] = "lora";
  for (const char* s : {"--output", "--output-dir", "--output_dir", "--output-path", "--output_path", "-o"}) {
    spec.value_flags[s] = "output";
  }
  spec.value_flags["--gguf"] = "gguf";
  spec.value_flags["--ollama-name"] = "ollama";
  spec.value_flags["--ollama_name"] = "ollama";
  spec.value_flags["--tokenizer"] = "tokenizer";
  spec.value_flags["--max-shard-size"] = "shard";
  spec.value_flags["--threads"] = "threads";
  spec.bool_flags["--overwrite"] = "overwrite";
  spec.bool_flags["--help"] = "help";
  spec.bool_flags["-h"] = "help";
  auto flags_or = ParseFlags(argc, argv, spec);
  if (!flags_or.ok()) return UsageError(flags_or.status().message(), kMergeUsage);
  const ParsedFlags& f = *flags_or;
  if (f.Has("help")) {
    std::fputs(kMergeUsage, stdout);
    return 0;
  }
  if (!f.positional.empty()) return UsageError("unexpected argument " + f.positional[0], kMergeUsage);
  for (const char* req : {"base", "lora", "output"}) {
    if (!f.Has(req)) return UsageError(fmt::format("--{} is required", req), kMergeUsage);
  }
  MergeOptions opt;
  opt.lora_dir = f.Get("lora");
  opt.output_dir = f.Get("output");
  opt.tokenizer_dir = f.Get("tokenizer");
  opt.overwrite = f.Has("overwrite");
  opt.ollama_name = f.Get("ollama");
  if (f.Has("gguf")) {
    opt.gguf = ParseGgufFileType(f.Get("gguf"));
    if (!opt.gguf) {
      return UsageError(fmt::format("--gguf {}: unsupported GGUF type; use f16, bf16, q8_0 or q4_k_m", f.Get("gguf")),
                        kMergeUsage);
    }
  }
  if (f.Has("shard")) {
    auto s = ParseByteSize(f.Get("shard"), "--max-shard-size");
    if (!s.ok()) return UsageError(s.status().message(), kMergeUsage);
    opt.max_shard_bytes = *s;
  }
  if (f.Has("threads")) {
    try {
      opt.threads = std::stoi(f.Get("threads"));
    } catch (...) {
      opt.threads = -1;
    }
    if (opt.threads <= 0) return UsageError("--threads " + f.Get("threads") + ": expected a positive integer", kMergeUsage);
  }
  if (!opt.ollama_name.empty() && opt.ollama_name.find_first_of(" \t\n'\"") != std::string::npos) {
    return UsageError("--ollama-name " + opt.ollama_name + ": no spaces or quotes allowed in an Ollama model name",
                      kMergeUsage);
  }
  auto base = ResolveModelDir(f.Get("base"), "--base");
  if (!base.ok()) return Fail("merge", base.status());
  opt.base_dir = *base;

  const auto t0 = std::chrono::steady_clock::now();
  auto merged = MergeLora(opt);
  if (!merged.ok()) return Fail("merge", merged.status());
  const MergeResult& r = *merged;
  std::printf("merged %zu LoRA modules (scale %g) into %zu tensors -> %s\n", r.modules_merged, r.lora_scale,
              r.tensors_written, r.output_dir.c_str());
  nlohmann::json metrics = {{"output_dir", r.output_dir},
                            {"tensors_written", r.tensors_written},
                            {"lora_modules_merged", r.modules_merged},
                            {"lora_scale", r.lora_scale}};
  if (r.gguf) {
    std::string types;
    for (const auto& [t, n] : r.gguf->type_counts) types += fmt::format("{}{} {}", types.empty() ? "" : ", ", t, n);
    std::printf("gguf: %s (%s, %zu tensors: %s), max |error| %.3g = %.2f of the bound\n", r.gguf->path.c_str(),
                HumanBytes(r.gguf->file_bytes).c_str(), r.gguf->tensor_count, types.c_str(),
                r.gguf->error.max_abs_error, r.gguf->error.max_error_over_bound);
    metrics["gguf_path"] = r.gguf->path;
    metrics["gguf_bytes"] = r.gguf->file_bytes;
    metrics["gguf_tensors"] = r.gguf->tensor_count;
    metrics["gguf_max_abs_error"] = r.gguf->error.max_abs_error;
    metrics["gguf_max_error_over_bound"] = r.gguf->error.max_error_over_bound;
  }
  int rc = 0;
  if (!r.modelfile_path.empty()) {
    metrics["modelfile"] = r.modelfile_path;
    const std::string cmd = ShellJoin(OllamaCreateCommand(opt.ollama_name, r.modelfile_path));
    if (OllamaOnPath()) {
      std::printf("running: %s\n", cmd.c_str());
      std::fflush(stdout);
      Status s = RunOllamaCreate(opt.ollama_name, r.modelfile_path);
      metrics["ollama_registered"] = s.ok();
      if (!s.ok()) {
        std::fprintf(stderr, "ritsu-engine merge: %s\n(the merged model in %s is complete; rerun the command above "
                     "once ollama works)\n", s.ToString().c_str(), r.output_dir.c_str());
        rc = 1;
      } else {
        std::printf("ollama: registered %s\n", opt.ollama_name.c_str());
      }
    } else {
      metrics["ollama_registered"] = false;
      std::printf("ollama is not on PATH; register the model with:\n  %s\n", cmd.c_str());
    }
  }
  metrics["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (Status s = WriteMetricsFile(metrics.dump(2)); !s.ok()) return Fail("merge", s);
  return rc;
}

int GgufInspectMain(int argc, char** argv) {
  FlagSpec spec;
  spec.value_flags["--verify-against"] = "verify";
  spec.bool_flags["--help"] = "help";
  spec.bool_flags["-h"] = "help";
  auto flags_or = ParseFlags(argc, argv, spec);
  if (!flags_or.ok()) return UsageError(flags_or.status().message(), kInspectUsage);
  const ParsedFlags& f = *flags_or;
  if (f.Has("help")) {
    std::fputs(kInspectUsage, stdout);
    return 0;
  }
  if (f.positional.size() != 1) return UsageError("expected exactly one GGUF FILE", kInspectUsage);
  auto g_or = GgufFile::Open(f.positional[0]);
  if (!g_or.ok()) return Fail("gguf-inspect", g_or.status());
  const GgufFile& g = *g_or;
  std::printf("%s: GGUF v%u, %s, alignment %llu, data at byte %llu\n", g.path().c_str(), g.version(),
              HumanBytes(g.file_size()).c_str(), static_cast<unsigned long long>(g.alignment()),
              static_cast<unsigned long long>(g.data_offset()));
  std::printf("\nmetadata (%zu keys):\n", g.metadata().size());
  for (const auto& [k, v] : g.metadata()) {
    std::printf("  %-44s %-4s %s\n", k.c_str(), GgufValueTypeName(v.type), v.ToString().c_str());
  }
  std::printf("\ntensors (%zu):\n  %-36s %-5s %-22s %14s %12s\n", g.tensors().size(), "name", "type", "ne",
              "offset", "bytes");
  for (const auto& t : g.tensors()) {
    std::printf("  %-36s %-5s %-22s %14llu %12llu\n", t.name.c_str(), GgmlTypeName(t.type),
                fmt::format("[{}]", fmt::join(t.ne, ", ")).c_str(), static_cast<unsigned long long>(t.offset),
                static_cast<unsigned long long>(t.bytes));
  }
  nlohmann::json metrics = {{"gguf_path", g.path()}, {"gguf_bytes", g.file_size()}, {"tensors", g.tensors().size()}};
  if (f.Has("verify")) {
    auto v = VerifyGgufAgainst(g, f.Get("verify"));
    if (!v.ok()) return Fail("gguf-inspect", v.status());
    std::printf("\nverified %zu tensors against %s: max |error| %.3g, max error/bound %.3f (%s)\n",
                v->tensors_checked, f.Get("verify").c_str(), v->error.max_abs_error, v->error.max_error_over_bound,
                v->error.worst_tensor.c_str());
    metrics["verified_tensors"] = v->tensors_checked;
    metrics["max_abs_error"] = v->error.max_abs_error;
    metrics["max_error_over_bound"] = v->error.max_error_over_bound;
  }
  if (Status s = WriteMetricsFile(metrics.dump(2)); !s.ok()) return Fail("gguf-inspect", s);
  return 0;
}

}  // namespace ritsu::merge
