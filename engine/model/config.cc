#include "engine/model/config.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/checked_math.h"

namespace ritsu::engine {

using nlohmann::json;

Status ModelConfig::Validate(const std::string& source) const {
  auto bad = [&](const std::string& field, const std::string& why) {
    return Status::InvalidArgument(source + ": field " + field + " " + why);
  };
  const std::pair<const char*, int64_t> positive[] = {
      {"hidden_size", hidden_size}, {"num_hidden_layers", num_hidden_layers},
      {"num_attention_heads", num_attention_heads}, {"num_key_value_heads", num_key_value_heads},
      {"head_dim", head_dim}, {"intermediate_size", intermediate_size}, {"vocab_size", vocab_size},
      {"max_position_embeddings", max_position_embeddings}};
  for (const auto& [name, v] : positive) {
    if (v <= 0) return bad(name, "must be > 0 (got " + std::to_string(v) + ")");
  }
  if (num_attention_heads % num_key_value_heads != 0) {
    return bad("num_key_value_heads", "(" + std::to_string(num_key_value_heads) + ") must divide num_attention_heads (" +
                                          std::to_string(num_attention_heads) + ")");
  }
  if (head_dim % 2 != 0) return bad("head_dim", "must be even for rotary embeddings");
  // Every weight's fp32 byte size must fit in 64 bits: the model, the merge and the adapters
  // multiply these fields into element and byte counts, which must not wrap.
  const int64_t q = num_attention_heads, kv = num_key_value_heads;
  const auto q_dim = CheckedMul(q, head_dim), kv_dim = CheckedMul(kv, head_dim);
  if (!q_dim) return bad("num_attention_heads", "x head_dim overflows 64 bits");
  if (!kv_dim) return bad("num_key_value_heads", "x head_dim overflows 64 bits");
  const std::pair<const char*, std::vector<int64_t>> weights[] = {
      {"vocab_size x hidden_size", {vocab_size, hidden_size}},
      {"num_attention_heads x head_dim x hidden_size", {*q_dim, hidden_size}},
      {"num_key_value_heads x head_dim x hidden_size", {*kv_dim, hidden_size}},
      {"intermediate_size x hidden_size", {intermediate_size, hidden_size}},
      {"max_position_embeddings x head_dim", {max_position_embeddings, head_dim}}};
  for (const auto& [what, shape] : weights) {
    if (!CheckedByteSize(shape, sizeof(float))) {
      return Status::InvalidArgument(source + ": fields " + what + " give a tensor whose byte size overflows 64 bits");
    }
  }
  if (!(rope_theta > 0)) return bad("rope_theta", "must be > 0");
  if (!(rms_norm_eps > 0)) return bad("rms_norm_eps", "must be > 0");
  return Status::Ok();
}

json ModelConfig::ToJson() const {
  json j;
  j["architectures"] = {ArchitectureName()};
  j["model_type"] = arch == Arch::kQwen2 ? "qwen2" : "qwen3";
  j["attention_dropout"] = 0.0;
  if (arch == Arch::kQwen3) {
    j["attention_bias"] = attention_bias;
    j["head_dim"] = head_dim;
  }
  j["bos_token_id"] = bos_token_id;
  j["eos_token_id"] = eos_token_ids.size() == 1 ? json(eos_token_ids[0]) : json(eos_token_ids);
  j["hidden_act"] = "silu";
  j["hidden_size"] = hidden_size;
  j["initializer_range"] = initializer_range;
  j["intermediate_size"] = intermediate_size;
  j["max_position_embeddings"] = max_position_embeddings;
  j["max_window_layers"] = num_hidden_layers;
  j["num_attention_heads"] = num_attention_heads;
  j["num_hidden_layers"] = num_hidden_layers;
  j["num_key_value_heads"] = num_key_value_heads;
  j["rms_norm_eps"] = rms_norm_eps;
  j["rope_scaling"] = nullptr;
  j["rope_theta"] = rope_theta;
  j["sliding_window"] = nullptr;
  j["tie_word_embeddings"] = tie_word_embeddings;
  j["torch_dtype"] = torch_dtype == DType::kBF16 ? "bfloat16" : torch_dtype == DType::kF16 ? "float16" : "float32";
  j["transformers_version"] = "4.51.0";
  j["use_cache"] = true;
  j["use_sliding_window"] = false;
  j["vocab_size"] = vocab_size;
  return j;
}

Result<ModelConfig> ParseModelConfig(const std::string& json_text, const std::string& source) {
  json j = json::parse(json_text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::InvalidArgument(source + ": not a JSON object");
  auto bad = [&](const std::string& field, const std::string& why) {
    return Status::InvalidArgument(source + ": field " + field + " " + why);
  };
  ModelConfig c;
  if (!j.contains("architectures") || !j["architectures"].is_array() || j["architectures"].empty() ||
      !j["architectures"][0].is_string()) {
    return bad("architectures", "is missing; expected [\"Qwen2ForCausalLM\"] or [\"Qwen3ForCausalLM\"]");
  }
  const std::string arch = j["architectures"][0].get<std::string>();
  if (arch == "Qwen2ForCausalLM") c.arch = Arch::kQwen2;
  else if (arch == "Qwen3ForCausalLM") c.arch = Arch::kQwen3;
  else return bad("architectures", "is " + arch + "; this engine supports Qwen2ForCausalLM and Qwen3ForCausalLM");

  auto get_int = [&](const char* field, int64_t* out, bool required) -> Status {
    if (!j.contains(field) || j[field].is_null()) {
      return required ? bad(field, "is missing") : Status::Ok();
    }
    if (!j[field].is_number_integer()) return bad(field, "must be an integer (got " + j[field].dump() + ")");
    *out = j[field].get<int64_t>();
    return Status::Ok();
  };
  auto get_num = [&](const char* field, double* out) -> Status {
    if (!j.contains(field) || j[field].is_null()) return Status::Ok();
    if (!j[field].is_number()) return bad(field, "must be a number (got " + j[field].dump() + ")");
    *out = j[field].get<double>();
    return Status::Ok();
  };
  RITSU_RETURN_IF_ERROR(get_int("hidden_size", &c.hidden_size, true));
  RITSU_RETURN_IF_ERROR(get_int("num_hidden_layers", &c.num_hidden_layers, true));
  RITSU_RETURN_IF_ERROR(get_int("num_attention_heads", &c.num_attention_heads, true));
  c.num_key_value_heads = c.num_attention_heads;  // HF default when absent
  RITSU_RETURN_IF_ERROR(get_int("num_key_value_heads", &c.num_key_value_heads, false));
  RITSU_RETURN_IF_ERROR(get_int("intermediate_size", &c.intermediate_size, true));
  RITSU_RETURN_IF_ERROR(get_int("vocab_size", &c.vocab_size, true));
  c.max_position_embeddings = 32768;
  RITSU_RETURN_IF_ERROR(get_int("max_position_embeddings", &c.max_position_embeddings, false));
  if (c.num_attention_heads > 0) c.head_dim = c.hidden_size / c.num_attention_heads;
  if (c.arch == Arch::kQwen3) RITSU_RETURN_IF_ERROR(get_int("head_dim", &c.head_dim, false));
  RITSU_RETURN_IF_ERROR(get_num("rope_theta", &c.rope_theta));
  RITSU_RETURN_IF_ERROR(get_num("rms_norm_eps", &c.rms_norm_eps));
  RITSU_RETURN_IF_ERROR(get_num("initializer_range", &c.initializer_range));
  RITSU_RETURN_IF_ERROR(get_int("bos_token_id", &c.bos_token_id, false));
  if (j.contains("eos_token_id") && !j["eos_token_id"].is_null()) {
    const json& e = j["eos_token_id"];
    if (e.is_number_integer()) c.eos_token_ids.push_back(e.get<int64_t>());
    else if (e.is_array()) {
      for (const auto& x : e) {
        if (!x.is_number_integer()) return bad("eos_token_id", "must be an integer or a list of integers");
        c.eos_token_ids.push_back(x.get<int64_t>());
      }
    } else {
      return bad("eos_token_id", "must be an integer or a list of integers");
    }
  }
  if (j.contains("tie_word_embeddings")) {
    if (!j["tie_word_embeddings"].is_boolean()) return bad("tie_word_embeddings", "must be true or false");
    c.tie_word_embeddings = j["tie_word_embeddings"].get<bool>();
  }
  // Qwen2 always has q/k/v bias (the HF class hard-codes it); Qwen3 reads attention_bias.
  c.attention_bias = c.arch == Arch::kQwen2;
  if (c.arch == Arch::kQwen3 && j.contains("attention_bias") && !j["attention_bias"].is_null()) {
    if (!j["attention_bias"].is_boolean()) return bad("attention_bias", "must be true or false");
    c.attention_bias = j["attention_bias"].get<bool>();
  }
  if (j.contains("torch_dtype") && j["torch_dtype"].is_string()) {
    if (!ParseFloatDTypeFlag(j["torch_dtype"].get<std::string>(), &c.torch_dtype)) {
      return bad("torch_dtype", "is " + j["torch_dtype"].dump() + "; supported: bfloat16, float16, float32");
    }
  }
  // Features that change the math and are not implemented: refuse rather than ignore.
  if (j.contains("rope_scaling") && !j["rope_scaling"].is_null()) {
    return bad("rope_scaling", "is " + j["rope_scaling"].dump() + "; only plain RoPE (rope_scaling: null) is supported");
  }
  if (j.contains("use_sliding_window") && j["use_sliding_window"].is_boolean() && j["use_sliding_window"].get<bool>()) {
    return bad("use_sliding_window", "is true; sliding-window attention is not supported");
  }
  if (j.contains("hidden_act") && j["hidden_act"] != "silu") {
    return bad("hidden_act", "is " + j["hidden_act"].dump() + "; only silu (SwiGLU) is supported");
  }
  RITSU_RETURN_IF_ERROR(c.Validate(source));
  return c;
}

Result<ModelConfig> LoadModelConfig(const std::string& model_dir) {
  const std::string path = (std::filesystem::path(model_dir) / "config.json").string();
  std::ifstream in(path);
  if (!in) return Status::NotFound(path + ": cannot open (is " + model_dir + " an HF model directory?)");
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseModelConfig(ss.str(), path);
}

namespace {

struct Preset {
  const char* name;
  int64_t hidden, layers, heads, kv_heads, head_dim, intermediate, vocab, max_pos;
  bool tie;
};

// Values from the published config.json files of Qwen/Qwen3-{0.6B..32B} and
// Qwen/Qwen2.5-{0.5B..32B}-Instruct (rope_theta 1e6, rms_norm_eps 1e-6 for all).
constexpr Preset kQwen3[] = {
    {"tiny", 64, 2, 4, 2, 16, 128, 151936, 40960, true},
    {"0.6b", 1024, 28, 16, 8, 128, 3072, 151936, 40960, true},
    {"1.7b", 2048, 28, 16, 8, 128, 6144, 151936, 40960, true},
    {"4b", 2560, 36, 32, 8, 128, 9728, 151936, 40960, true},
    {"8b", 4096, 36, 32, 8, 128, 12288, 151936, 40960, false},
    {"14b", 5120, 40, 40, 8, 128, 17408, 151936, 40960, false},
    {"32b", 5120, 64, 64, 8, 128, 25600, 151936, 40960, false},
};
constexpr Preset kQwen2[] = {
    {"tiny", 64, 2, 4, 2, 16, 128, 151936, 32768, true},
    {"0.5b", 896, 24, 14, 2, 64, 4864, 151936, 32768, true},
    {"1.5b", 1536, 28, 12, 2, 128, 8960, 151936, 32768, true},
    {"3b", 2048, 36, 16, 2, 128, 11008, 151936, 32768, true},
    {"7b", 3584, 28, 28, 4, 128, 18944, 152064, 32768, false},
    {"14b", 5120, 48, 40, 8, 128, 13824, 152064, 32768, false},
    {"32b", 5120, 64, 40, 8, 128, 27648, 152064, 32768, false},
};

}  // namespace

std::vector<std::string> PresetNames(Arch arch) {
  std::vector<std::string> out;
  for (const auto& p : arch == Arch::kQwen3 ? std::vector<Preset>(std::begin(kQwen3), std::end(kQwen3))
                                            : std::vector<Preset>(std::begin(kQwen2), std::end(kQwen2))) {
    out.push_back(p.name);
  }
  return out;
}

Result<ModelConfig> PresetConfig(Arch arch, const std::string& preset) {
  const Preset* begin = arch == Arch::kQwen3 ? std::begin(kQwen3) : std::begin(kQwen2);
  const Preset* end = arch == Arch::kQwen3 ? std::end(kQwen3) : std::end(kQwen2);
  for (const Preset* p = begin; p != end; ++p) {
    if (preset != p->name) continue;
    ModelConfig c;
    c.arch = arch;
    c.hidden_size = p->hidden;
    c.num_hidden_layers = p->layers;
    c.num_attention_heads = p->heads;
    c.num_key_value_heads = p->kv_heads;
    c.head_dim = p->head_dim;
    c.intermediate_size = p->intermediate;
    c.vocab_size = p->vocab;
    c.max_position_embeddings = p->max_pos;
    c.tie_word_embeddings = p->tie;
    c.rope_theta = 1000000.0;
    c.rms_norm_eps = 1e-6;
    c.attention_bias = arch == Arch::kQwen2;
    c.bos_token_id = 151643;
    // Qwen3 checkpoints and Qwen2.5 Instruct end turns with <|im_end|>.
    c.eos_token_ids = {151645};
    return c;
  }
  std::string names;
  for (const auto& n : PresetNames(arch)) names += (names.empty() ? "" : ", ") + n;
  return Status::InvalidArgument("--preset " + preset + " is unknown for --arch " +
                                 (arch == Arch::kQwen3 ? "qwen3" : "qwen2") + "; choose one of: " + names + ", custom");
}

}  // namespace ritsu::engine
