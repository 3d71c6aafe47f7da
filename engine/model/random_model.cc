#include "engine/model/random_model.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <thread>
#include <filesystem>
#include <fstream>
#include <random>

#include <nlohmann/json.hpp>

#include "engine/model/lora_adapter.h"

namespace ritsu::engine {

namespace fs = std::filesystem;

std::vector<std::pair<std::string, std::vector<int64_t>>> CheckpointTensorShapes(const ModelConfig& c) {
  std::vector<std::pair<std::string, std::vector<int64_t>>> out;
  out.push_back({"model.embed_tokens.weight", {c.vocab_size, c.hidden_size}});
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    out.push_back({p + "input_layernorm.weight", {c.hidden_size}});
    for (LinearModule m : kAllLinearModules) {
      const auto [o, i] = LinearModuleShape(c, m);
      out.push_back({LinearModulePath(l, m) + ".weight", {o, i}});
      if (c.attention_bias && (m == LinearModule::kQ || m == LinearModule::kK || m == LinearModule::kV)) {
        out.push_back({LinearModulePath(l, m) + ".bias", {o}});
      }
    }
    if (c.arch == Arch::kQwen3) {
      out.push_back({p + "self_attn.q_norm.weight", {c.head_dim}});
      out.push_back({p + "self_attn.k_norm.weight", {c.head_dim}});
    }
    out.push_back({p + "post_attention_layernorm.weight", {c.hidden_size}});
  }
  out.push_back({"model.norm.weight", {c.hidden_size}});
  if (!c.tie_word_embeddings) out.push_back({"lm_head.weight", {c.vocab_size, c.hidden_size}});
  return out;
}

static uint64_t Fnv1a(const std::string& s, uint64_t h) {
  for (unsigned char ch : s) {
    h ^= ch;
    h *= 0x100000001b3ull;
  }
  return h;
}

static bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// SplitMix64 finalizer: decorrelates the per-chunk seeds.
static uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

std::vector<float> RandomTensorValues(const ModelConfig& c, const std::string& name, int64_t numel,
                                      const RandomModelOptions& options) {
  std::vector<float> v(static_cast<size_t>(numel));
  const bool is_norm = EndsWith(name, "norm.weight");  // input/post_attention_layernorm, q/k_norm, model.norm
  const bool is_bias = EndsWith(name, ".bias");
  if ((is_norm || is_bias) && !options.test_init) {
    std::fill(v.begin(), v.end(), is_norm ? 1.0f : 0.0f);
    return v;
  }
  const double mean = is_norm ? 1.0 : 0.0;
  const double std = is_norm ? 0.1 : c.initializer_range;
  const uint64_t base = Fnv1a(name, 0xcbf29ce484222325ull ^ options.seed);
  // Fixed chunks with their own generators: the values do not depend on the thread count, and
  // multi-GB tensors (8B+ presets) fill on every core.
  constexpr int64_t kChunk = 1 << 20;
  const int64_t n_chunks = (numel + kChunk - 1) / kChunk;
  auto fill_chunk = [&](int64_t chunk) {
    std::mt19937_64 rng(Mix(base ^ Mix(static_cast<uint64_t>(chunk))));
    const int64_t begin = chunk * kChunk, end = std::min(numel, begin + kChunk);
    // Box-Muller on our own uniforms: the same values on every platform and standard library.
    for (int64_t i = begin; i < end; i += 2) {
      const double u1 = (static_cast<double>(rng() >> 11) + 0.5) * 0x1.0p-53;
      const double u2 = static_cast<double>(rng() >> 11) * 0x1.0p-53;
      const double r = std::sqrt(-2.0 * std::log(u1));
      v[static_cast<size_t>(i)] = static_cast<float>(mean + std * r * std::cos(2.0 * M_PI * u2));
      if (i + 1 < end) v[static_cast<size_t>(i + 1)] = static_cast<float>(mean + std * r * std::sin(2.0 * M_PI * u2));
    }
    // Rounded to the stored dtype here, on every core (the writer's conversion of an already
    // rounded value is exact, so the file does not change).
    if (options.dtype == DType::kBF16) {
      for (int64_t i = begin; i < end; ++i) v[static_cast<size_t>(i)] = Bf16BitsToFloat(FloatToBf16Bits(v[static_cast<size_t>(i)]));
    }
  };
  const int64_t n_threads = std::min<int64_t>(n_chunks, std::max(1u, std::thread::hardware_concurrency()));
  if (n_threads <= 1) {
    for (int64_t k = 0; k < n_chunks; ++k) fill_chunk(k);
    return v;
  }
  std::atomic<int64_t> next{0};
  std::vector<std::thread> pool;
  for (int64_t t = 0; t < n_threads; ++t) {
    pool.emplace_back([&] {
      for (int64_t k; (k = next.fetch_add(1)) < n_chunks;) fill_chunk(k);
    });
  }
  for (auto& th : pool) th.join();
  return v;
}

static Status WriteJson(const fs::path& path, const nlohmann::json& j) {
  std::ofstream out(path);
  out << j.dump(2) << "\n";
  if (!out) return Status::IOError("writing " + path.string() + " failed");
  return Status::Ok();
}

Status WriteRandomModel(const ModelConfig& config, const RandomModelOptions& options, const std::string& out_dir) {
  RITSU_RETURN_IF_ERROR(config.Validate("make-model"));
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) return Status::IOError("cannot create --out " + out_dir + ": " + ec.message());
  ModelConfig written = config;
  written.torch_dtype = options.dtype;
  RITSU_RETURN_IF_ERROR(WriteJson(fs::path(out_dir) / "config.json", written.ToJson()));
  nlohmann::json gen = {{"bos_token_id", config.bos_token_id},
                        {"eos_token_id", {151645, 151643}},
                        {"pad_token_id", 151643},
                        {"do_sample", false},
                        {"transformers_version", "4.51.0"}};
  RITSU_RETURN_IF_ERROR(WriteJson(fs::path(out_dir) / "generation_config.json", gen));

  std::vector<TensorSource> sources;
  for (const auto& [name, shape] : options.write_weights ? CheckpointTensorShapes(config)
                                                         : std::vector<std::pair<std::string, std::vector<int64_t>>>{}) {
    int64_t numel = 1;
    for (int64_t d : shape) numel *= d;
    const std::string n = name;
    sources.push_back({name, options.dtype, shape, [&config, &options, n, numel](uint8_t* dst) {
                         const std::vector<float> v = RandomTensorValues(config, n, numel, options);
                         ConvertFromFloat(options.dtype, v.data(), dst, v.size());
                       }});
  }
  if (options.write_weights) {
    RITSU_RETURN_IF_ERROR(WriteCheckpointDir(out_dir, sources, options.max_shard_bytes, {{"format", "pt"}}));
  }

  if (!options.tokenizer_dir.empty()) {
    const fs::path src(options.tokenizer_dir);
    if (!fs::exists(src / "tokenizer.json")) {
      return Status::NotFound(src.string() + "/tokenizer.json: missing (--tokenizer-from must name a directory with the Qwen tokenizer)");
    }
    for (const char* f : {"tokenizer.json", "tokenizer_config.json"}) {
      if (!fs::exists(src / f)) continue;
      fs::copy_file(src / f, fs::path(out_dir) / f, fs::copy_options::overwrite_existing, ec);
      if (ec) return Status::IOError("copying " + (src / f).string() + ": " + ec.message());
      // The source may be read-only; the copy belongs to the user (make-model can rerun).
      fs::permissions(fs::path(out_dir) / f, fs::perms::owner_write, fs::perm_options::add, ec);
    }
    // The tokenizer's licence travels with it (Apache-2.0, Qwen team).
    for (const auto& entry : fs::directory_iterator(src)) {
      const std::string fname = entry.path().filename().string();
      if (fname.rfind("LICENSE", 0) == 0) {
        fs::copy_file(entry.path(), fs::path(out_dir) / "LICENSE", fs::copy_options::overwrite_existing, ec);
        if (ec) return Status::IOError("copying " + entry.path().string() + ": " + ec.message());
        fs::permissions(fs::path(out_dir) / "LICENSE", fs::perms::owner_write, fs::perm_options::add, ec);
      }
    }
  }
  return Status::Ok();
}

}  // namespace ritsu::engine
