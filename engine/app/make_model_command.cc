// ritsu-engine make-model: a complete HF model directory with random Qwen weights.
#include <cstdio>
#include <filesystem>

#include "engine/app/command_util.h"
#include "engine/app/subcommands.h"
#include "engine/model/random_model.h"

namespace ritsu::engine::app {

static const char kUsage[] =
    "usage: ritsu-engine make-model --arch qwen3|qwen2 --preset NAME --seed S --out DIR\n"
    "         [--dtype bf16|fp16|fp32] [--hidden N --layers N --heads N --kv-heads N --head-dim N\n"
    "          --intermediate N --vocab N --max-position N --rope-theta X --tie-word-embeddings true|false]\n"
    "         [--initializer-range X (std of the random weights, default 0.02 as HF)]\n"
    "         [--shard-size-mb N] [--tokenizer-from DIR | --no-tokenizer] [--test-init]\n"
    "         [--config-only (config + tokenizer, no weights: for train --random-base-seed S)]\n"
    "presets: qwen3: tiny 0.6b 1.7b 4b 8b 14b 32b custom; qwen2: tiny 0.5b 1.5b 3b 7b 14b 32b custom\n"
    "(custom starts from tiny; the size flags override any preset). --test-init draws norm weights\n"
    "and biases at random too (HF init leaves them 1 and 0), for tests and the parity harness.\n";

static Status Run(const Flags& f) {
  RITSU_ASSIGN_OR_RETURN(std::string arch_s, f.Require("arch"));
  Arch arch;
  if (arch_s == "qwen3") arch = Arch::kQwen3;
  else if (arch_s == "qwen2") arch = Arch::kQwen2;
  else return Status::InvalidArgument("--arch " + arch_s + ": expected qwen3 or qwen2");
  RITSU_ASSIGN_OR_RETURN(std::string preset, f.Require("preset"));
  RITSU_ASSIGN_OR_RETURN(ModelConfig c, PresetConfig(arch, preset == "custom" ? "tiny" : preset));
  RITSU_ASSIGN_OR_RETURN(c.hidden_size, f.GetInt("hidden", c.hidden_size));
  RITSU_ASSIGN_OR_RETURN(c.num_hidden_layers, f.GetInt("layers", c.num_hidden_layers));
  RITSU_ASSIGN_OR_RETURN(c.num_attention_heads, f.GetInt("heads", c.num_attention_heads));
  RITSU_ASSIGN_OR_RETURN(c.num_key_value_heads, f.GetInt("kv-heads", c.num_key_value_heads));
  // Qwen2's head_dim is implied (hidden / heads), Qwen3's is its own field.
  const int64_t implied_head_dim = c.num_attention_heads > 0 ? c.hidden_size / c.num_attention_heads : 0;
  RITSU_ASSIGN_OR_RETURN(c.head_dim, f.GetInt("head-dim", arch == Arch::kQwen2 ? implied_head_dim : c.head_dim));
  if (arch == Arch::kQwen2 && c.head_dim * c.num_attention_heads != c.hidden_size) {
    return Status::InvalidArgument("--head-dim: Qwen2 needs head_dim * heads == hidden (" + std::to_string(c.head_dim) + " x " +
                                   std::to_string(c.num_attention_heads) + " != " + std::to_string(c.hidden_size) + ")");
  }
  RITSU_ASSIGN_OR_RETURN(c.intermediate_size, f.GetInt("intermediate", c.intermediate_size));
  RITSU_ASSIGN_OR_RETURN(c.vocab_size, f.GetInt("vocab", c.vocab_size));
  RITSU_ASSIGN_OR_RETURN(c.max_position_embeddings, f.GetInt("max-position", c.max_position_embeddings));
  RITSU_ASSIGN_OR_RETURN(c.rope_theta, f.GetDouble("rope-theta", c.rope_theta));
  RITSU_ASSIGN_OR_RETURN(c.initializer_range, f.GetDouble("initializer-range", c.initializer_range));
  if (!(c.initializer_range > 0)) return Status::InvalidArgument("--initializer-range must be > 0");
  if (f.Has("tie-word-embeddings")) {
    const std::string t = f.Get("tie-word-embeddings");
    if (t != "true" && t != "false") return Status::InvalidArgument("--tie-word-embeddings must be true or false");
    c.tie_word_embeddings = t == "true";
  }
  RITSU_RETURN_IF_ERROR(c.Validate("make-model flags"));
  RandomModelOptions o;
  RITSU_ASSIGN_OR_RETURN(int64_t seed, f.GetInt("seed", 0));
  o.seed = static_cast<uint64_t>(seed);
  if (f.Has("dtype") && !ParseFloatDTypeFlag(f.Get("dtype"), &o.dtype)) {
    return Status::InvalidArgument("--dtype " + f.Get("dtype") + ": expected bf16, fp16 or fp32");
  }
  RITSU_ASSIGN_OR_RETURN(int64_t shard_mb, f.GetInt("shard-size-mb", 5 * 1024));
  if (shard_mb < 1) return Status::InvalidArgument("--shard-size-mb must be >= 1");
  o.max_shard_bytes = static_cast<uint64_t>(shard_mb) << 20;
  o.test_init = f.Has("test-init");
  o.write_weights = !f.Has("config-only");
  if (!f.Has("no-tokenizer")) {
    o.tokenizer_dir = f.Get("tokenizer-from", RITSU_DEFAULT_TOKENIZER_DIR);
    if (!std::filesystem::exists(std::filesystem::path(o.tokenizer_dir) / "tokenizer.json")) {
      return Status::NotFound("--tokenizer-from " + o.tokenizer_dir + ": no tokenizer.json there (pass the Qwen tokenizer directory, or --no-tokenizer)");
    }
  }
  RITSU_ASSIGN_OR_RETURN(std::string out, f.Require("out"));
  RITSU_RETURN_IF_ERROR(WriteRandomModel(c, o, out));
  std::fprintf(stderr, "make-model: wrote %s (%s, hidden %lld, %lld layers, vocab %lld, %s)\n", out.c_str(),
               c.ArchitectureName(), static_cast<long long>(c.hidden_size), static_cast<long long>(c.num_hidden_layers),
               static_cast<long long>(c.vocab_size), DTypeName(o.dtype));
  return Status::Ok();
}

int MakeModelMain(int argc, char** argv) {
  auto flags = Flags::Parse(argc, argv,
                            {"arch", "preset", "seed", "out", "dtype", "hidden", "layers", "heads", "kv-heads", "head-dim",
                             "intermediate", "vocab", "max-position", "rope-theta", "initializer-range", "tie-word-embeddings", "shard-size-mb",
                             "tokenizer-from"},
                            {"no-tokenizer", "test-init", "config-only", "help"});
  if (!flags.ok()) {
    std::fputs(kUsage, stderr);
    return Fail("make-model", flags.status());
  }
  if (flags->Has("help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  Status st = Run(*flags);
  return st.ok() ? 0 : Fail("make-model", st);
}

}  // namespace ritsu::engine::app
