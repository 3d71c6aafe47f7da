#include "engine/model/lora_adapter.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <nlohmann/json.hpp>
#include <pcre2.h>

#include "common/atomic_file.h"
#include "common/checked_math.h"
#include "engine/model/safetensors.h"

namespace ritsu::engine {

namespace fs = std::filesystem;
using nlohmann::json;

const char* LinearModuleName(LinearModule m) {
  switch (m) {
    case LinearModule::kQ: return "q_proj";
    case LinearModule::kK: return "k_proj";
    case LinearModule::kV: return "v_proj";
    case LinearModule::kO: return "o_proj";
    case LinearModule::kGate: return "gate_proj";
    case LinearModule::kUp: return "up_proj";
    case LinearModule::kDown: return "down_proj";
  }
  return "?";
}

const char* LinearModuleParent(LinearModule m) {
  return m == LinearModule::kGate || m == LinearModule::kUp || m == LinearModule::kDown ? "mlp" : "self_attn";
}

std::pair<int64_t, int64_t> LinearModuleShape(const ModelConfig& c, LinearModule m) {
  switch (m) {
    case LinearModule::kQ: return {c.q_dim(), c.hidden_size};
    case LinearModule::kK: case LinearModule::kV: return {c.kv_dim(), c.hidden_size};
    case LinearModule::kO: return {c.hidden_size, c.q_dim()};
    case LinearModule::kGate: case LinearModule::kUp: return {c.intermediate_size, c.hidden_size};
    case LinearModule::kDown: return {c.hidden_size, c.intermediate_size};
  }
  return {0, 0};
}

std::string LinearModulePath(int64_t layer, LinearModule m) {
  return "model.layers." + std::to_string(layer) + "." + LinearModuleParent(m) + "." + LinearModuleName(m);
}

double LoraConfig::Scale() const {
  return use_rslora ? lora_alpha / std::sqrt(static_cast<double>(r)) : lora_alpha / static_cast<double>(r);
}

bool LoraConfig::Targets(LinearModule m) const {
  for (const auto& t : target_modules) {
    if (t == LinearModuleName(m)) return true;
  }
  return false;
}

namespace {

// Full matches with PCRE2 (Python `re` semantics, which PEFT uses) under a budget. std::regex
// has none: target_modules "(.*)*x" backtracked for minutes on a 31-character module name, and
// its recursion per character can overflow the stack on a long tensor name from a file.
constexpr uint32_t kRegexMatchLimit = 1'000'000;  // backtracking steps
constexpr uint32_t kRegexDepthLimit = 10'000;     // KiB of backtracking memory

struct Regex {
  pcre2_code* code = nullptr;
  std::string error;  // empty when compiled
  explicit Regex(std::string_view pattern) {
    int err = 0;
    PCRE2_SIZE offset = 0;
    code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                         PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &err, &offset,
                         nullptr);
    if (!code) {
      PCRE2_UCHAR buf[256];
      pcre2_get_error_message(err, buf, sizeof buf);
      error = "does not compile at offset " + std::to_string(offset) + ": " + reinterpret_cast<const char*>(buf);
    }
  }
  ~Regex() { pcre2_code_free(code); }
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Whole-subject match; the captured groups in *groups (when given). An error when the budget
  // runs out.
  Result<bool> FullMatch(std::string_view subject, std::vector<std::string>* groups = nullptr) const {
    pcre2_match_data* md = pcre2_match_data_create_from_pattern(code, nullptr);
    pcre2_match_context* mc = pcre2_match_context_create(nullptr);
    pcre2_set_match_limit(mc, kRegexMatchLimit);
    pcre2_set_depth_limit(mc, kRegexDepthLimit);
    const int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), 0, 0, md, mc);
    if (rc > 0 && groups) {
      const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
      groups->clear();
      for (int i = 0; i < rc; ++i) {
        groups->push_back(ov[2 * i] == PCRE2_UNSET ? "" : std::string(subject.substr(ov[2 * i], ov[2 * i + 1] - ov[2 * i])));
      }
    }
    pcre2_match_context_free(mc);
    pcre2_match_data_free(md);
    if (rc >= 0 || rc == PCRE2_ERROR_NOMATCH) return rc >= 0;
    if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT) {
      return Status::InvalidArgument("needs more backtracking than allowed (" + std::to_string(kRegexMatchLimit) + " steps)");
    }
    return Status::InvalidArgument("matching failed (PCRE2 error " + std::to_string(rc) + ")");
  }
};

}  // namespace

// peft's check_target_module_exists for a list entry: the module path equals the entry or
// ends with "." + entry.
static bool PeftNameMatches(const std::string& path, const std::string& entry) {
  if (path == entry) return true;
  return path.size() > entry.size() && path.compare(path.size() - entry.size(), entry.size(), entry) == 0 &&
         path[path.size() - entry.size() - 1] == '.';
}

bool LoraConfig::TargetsAt(int64_t layer, LinearModule m) const {
  if (target_patterns.empty()) return Targets(m);
  const std::string path = LinearModulePath(layer, m);
  if (target_regex) {
    if (target_patterns[0] == "all-linear") return true;
    // Compiles and stays within its budget: ParseLoraConfig checked both.
    const Regex re(target_patterns[0]);
    if (!re.error.empty()) return false;
    Result<bool> match = re.FullMatch(path);
    return match.ok() && *match;
  }
  for (const auto& t : target_patterns) {
    if (PeftNameMatches(path, t)) return true;
  }
  return false;
}

const LoraWeights* LoraAdapter::Find(int64_t layer, LinearModule m) const {
  auto it = weights.find({layer, m});
  return it == weights.end() ? nullptr : &it->second;
}

Result<LoraConfig> ParseLoraConfig(const std::string& path, const std::string& text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::InvalidArgument(path + ": not a JSON object");
  auto bad = [&](const std::string& field, const std::string& why) {
    return Status::InvalidArgument(path + ": field " + field + " " + why);
  };
  LoraConfig c;
  if (j.contains("peft_type") && j["peft_type"] != "LORA") return bad("peft_type", "is " + j["peft_type"].dump() + "; only LORA adapters are supported");
  if (!j.contains("r") || !j["r"].is_number_integer() || j["r"].get<int64_t>() <= 0) return bad("r", "must be a positive integer");
  c.r = j["r"].get<int64_t>();
  if (!j.contains("lora_alpha") || !j["lora_alpha"].is_number()) return bad("lora_alpha", "must be a number");
  c.lora_alpha = j["lora_alpha"].get<double>();
  if (j.contains("lora_dropout") && j["lora_dropout"].is_number()) c.lora_dropout = j["lora_dropout"].get<double>();
  if (j.contains("use_rslora") && !j["use_rslora"].is_null()) {
    if (!j["use_rslora"].is_boolean()) return bad("use_rslora", "must be true or false");
    c.use_rslora = j["use_rslora"].get<bool>();
  }
  if (j.contains("lora_bias") && j["lora_bias"] == true) return bad("lora_bias", "is true; LoRA B biases are not supported");
  if (j.contains("use_dora") && j["use_dora"] == true) return bad("use_dora", "is true; DoRA adapters are not supported");
  for (const char* f : {"rank_pattern", "alpha_pattern"}) {
    if (j.contains(f) && j[f].is_object() && !j[f].empty()) return bad(f, "is not empty; per-module ranks/alphas are not supported");
  }
  if (j.contains("modules_to_save") && !j["modules_to_save"].is_null() && !j["modules_to_save"].empty()) {
    return bad("modules_to_save", "is set; adapters that replace whole modules are not supported");
  }
  if (j.contains("bias") && j["bias"].is_string() && j["bias"] != "none") return bad("bias", "is " + j["bias"].dump() + "; only \"none\" is supported");
  if (j.contains("fan_in_fan_out") && j["fan_in_fan_out"] == true) return bad("fan_in_fan_out", "is true; Qwen linears are not Conv1D");
  if (j.contains("layers_to_transform") && !j["layers_to_transform"].is_null()) return bad("layers_to_transform", "is set; not supported");
  if (!j.contains("target_modules")) return bad("target_modules", "is missing");
  const json& t = j["target_modules"];
  if (t.is_array()) {
    for (const auto& x : t) {
      if (!x.is_string()) return bad("target_modules", "must hold strings");
      c.target_patterns.push_back(x.get<std::string>());
    }
  } else if (t.is_string()) {
    const std::string pattern = t.get<std::string>();
    c.target_patterns.push_back(pattern);
    c.target_regex = true;
    if (pattern != "all-linear") {
      // PEFT matches a string as a regex against the full module name: it must compile and stay
      // within the backtracking budget on a module path.
      const Regex re(pattern);
      if (!re.error.empty()) return bad("target_modules", "regex " + t.dump() + " " + re.error);
      for (LinearModule m : kAllLinearModules) {
        Result<bool> match = re.FullMatch(LinearModulePath(0, m));
        if (!match.ok()) return bad("target_modules", "regex " + t.dump() + " " + match.status().message());
      }
    }
  } else {
    return bad("target_modules", "must be a list of module names or a regex string");
  }
  if (c.target_patterns.empty()) return bad("target_modules", "selects no linear layer");
  if (j.contains("base_model_name_or_path") && j["base_model_name_or_path"].is_string()) {
    c.base_model_name_or_path = j["base_model_name_or_path"].get<std::string>();
  }
  return c;
}

Status ResolveLoraTargets(const std::string& path, const ModelConfig& base, LoraConfig* c) {
  const std::string valid = "(q_proj k_proj v_proj o_proj gate_proj up_proj down_proj, or a dot-suffix of "
                            "model.layers.N.self_attn|mlp.NAME)";
  auto selects = [&](const LoraConfig& one, LinearModule m) {
    for (int64_t l = 0; l < base.num_hidden_layers; ++l) {
      if (one.TargetsAt(l, m)) return true;
    }
    return false;
  };
  if (!c->target_regex) {
    for (const auto& entry : c->target_patterns) {
      LoraConfig one;
      one.target_patterns = {entry};
      bool any = false;
      for (LinearModule m : kAllLinearModules) any = any || selects(one, m);
      if (!any) {
        return Status::InvalidArgument(path + ": field target_modules names \"" + entry +
                                       "\", which is not a linear layer of a Qwen decoder layer of this base " + valid);
      }
    }
  }
  c->target_modules.clear();
  for (LinearModule m : kAllLinearModules) {
    if (selects(*c, m)) c->target_modules.push_back(LinearModuleName(m));
  }
  if (c->target_modules.empty()) {
    return Status::InvalidArgument(path + ": field target_modules selects no linear layer of this base");
  }
  return Status::Ok();
}

Status CheckLoraShapes(const ModelConfig& base, const LoraConfig& config, const std::string& source) {
  for (LinearModule m : kAllLinearModules) {
    if (!config.Targets(m)) continue;
    const auto [out_f, in_f] = LinearModuleShape(base, m);
    const std::vector<int64_t> a = {config.r, in_f}, b = {out_f, config.r};
    if (!CheckedByteSize(a, sizeof(float)) || !CheckedByteSize(b, sizeof(float))) {
      return Status::InvalidArgument(source + ": r = " + std::to_string(config.r) + " gives " + LinearModuleName(m) +
                                     " LoRA matrices whose byte size overflows 64 bits");
    }
  }
  return Status::Ok();
}

Result<LoraAdapter> LoraAdapter::Load(const std::string& dir, const ModelConfig& base) {
  const std::string cfg_path = (fs::path(dir) / "adapter_config.json").string();
  std::ifstream in(cfg_path);
  if (!in) return Status::NotFound(cfg_path + ": cannot open (is " + dir + " a PEFT adapter directory?)");
  std::stringstream ss;
  ss << in.rdbuf();
  LoraAdapter ad;
  RITSU_ASSIGN_OR_RETURN(ad.config, ParseLoraConfig(cfg_path, ss.str()));
  RITSU_RETURN_IF_ERROR(ResolveLoraTargets(cfg_path, base, &ad.config));
  RITSU_RETURN_IF_ERROR(CheckLoraShapes(base, ad.config, cfg_path));
  const std::string st_path = (fs::path(dir) / "adapter_model.safetensors").string();
  if (!fs::exists(st_path)) {
    return Status::NotFound(st_path + ": missing (adapter_model.bin pickles are not read; re-save with safe_serialization=True)");
  }
  RITSU_ASSIGN_OR_RETURN(auto ck, Checkpoint::OpenFile(st_path));
  // Key grammar: base_model.model.model.layers.<N>.<parent>.<module>.lora_<A|B>[.default].weight
  static const Regex kKey(R"(base_model\.model\.model\.layers\.(\d{1,9})\.(self_attn|mlp)\.([a-z_]+)\.lora_([AB])(?:\.default)?\.weight)");
  std::vector<std::string> m;
  for (const auto& [name, view] : ck->tensors()) {
    Result<bool> matched = kKey.FullMatch(name, &m);
    if (!matched.ok() || !*matched) {
      return Status::InvalidArgument(st_path + ": tensor " + name + " is not a LoRA A/B weight of a Qwen decoder linear layer");
    }
    const int64_t layer = std::stoll(m[1]);
    if (layer >= base.num_hidden_layers) {
      return Status::InvalidArgument(st_path + ": tensor " + name + " is for layer " + std::to_string(layer) + " but the base has " +
                                     std::to_string(base.num_hidden_layers) + " layers");
    }
    std::optional<LinearModule> mod;
    for (LinearModule lm : kAllLinearModules) {
      if (m[3] == LinearModuleName(lm) && m[2] == LinearModuleParent(lm)) mod = lm;
    }
    if (!mod) return Status::InvalidArgument(st_path + ": tensor " + name + " names an unknown module");
    if (!ad.config.TargetsAt(layer, *mod)) {
      return Status::InvalidArgument(st_path + ": tensor " + name + " is for " + LinearModuleName(*mod) + ", which target_modules in " + cfg_path + " does not list");
    }
    const auto [out_f, in_f] = LinearModuleShape(base, *mod);
    const bool is_a = m[4] == "A";
    const std::vector<int64_t> want = is_a ? std::vector<int64_t>{ad.config.r, in_f} : std::vector<int64_t>{out_f, ad.config.r};
    RITSU_ASSIGN_OR_RETURN(auto values, ck->ReadFloat(name, want));
    LoraWeights& w = ad.weights[{layer, *mod}];
    w.r = ad.config.r;
    w.in_features = in_f;
    w.out_features = out_f;
    (is_a ? w.a : w.b) = std::move(values);
  }
  for (int64_t layer = 0; layer < base.num_hidden_layers; ++layer) {
    for (LinearModule lm : kAllLinearModules) {
      if (!ad.config.TargetsAt(layer, lm)) continue;
      const LoraWeights* w = ad.Find(layer, lm);
      const std::string prefix = "base_model.model." + LinearModulePath(layer, lm);
      if (!w || w->a.empty()) return Status::InvalidArgument(st_path + ": tensor " + prefix + ".lora_A.weight is missing");
      if (w->b.empty()) return Status::InvalidArgument(st_path + ": tensor " + prefix + ".lora_B.weight is missing");
    }
  }
  return ad;
}

LoraAdapter LoraAdapter::Init(const ModelConfig& base, const LoraConfig& config, uint64_t seed) {
  LoraAdapter ad;
  ad.config = config;
  std::mt19937_64 rng(seed);
  for (int64_t layer = 0; layer < base.num_hidden_layers; ++layer) {
    for (LinearModule lm : kAllLinearModules) {
      if (!config.TargetsAt(layer, lm)) continue;
      const auto [out_f, in_f] = LinearModuleShape(base, lm);
      LoraWeights w;
      w.r = config.r;
      w.in_features = in_f;
      w.out_features = out_f;
      const double bound = 1.0 / std::sqrt(static_cast<double>(in_f));
      w.a.resize(static_cast<size_t>(config.r * in_f));
      for (float& x : w.a) x = static_cast<float>((static_cast<double>(rng() >> 11) * 0x1.0p-53 * 2.0 - 1.0) * bound);
      w.b.assign(static_cast<size_t>(out_f * config.r), 0.0f);
      ad.weights[{layer, lm}] = std::move(w);
    }
  }
  return ad;
}

Status LoraAdapter::Save(const std::string& dir, DType dtype) const {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::IOError("cannot create " + dir + ": " + ec.message());
  json j = {{"alpha_pattern", json::object()},
            {"auto_mapping", nullptr},
            {"base_model_name_or_path", config.base_model_name_or_path},
            {"bias", "none"},
            {"fan_in_fan_out", false},
            {"inference_mode", true},
            {"init_lora_weights", true},
            {"layers_pattern", nullptr},
            {"layers_to_transform", nullptr},
            {"lora_alpha", config.lora_alpha},
            {"lora_dropout", config.lora_dropout},
            {"modules_to_save", nullptr},
            {"peft_type", "LORA"},
            {"r", config.r},
            {"rank_pattern", json::object()},
            {"revision", nullptr},
            {"target_modules", config.target_patterns.empty() ? json(config.target_modules)
                               : config.target_regex ? json(config.target_patterns[0])
                                                     : json(config.target_patterns)},
            {"task_type", "CAUSAL_LM"},
            {"use_dora", false},
            {"use_rslora", config.use_rslora}};
  if (config.lora_alpha == std::floor(config.lora_alpha)) j["lora_alpha"] = static_cast<int64_t>(config.lora_alpha);
  std::vector<TensorData> tensors;
  for (const auto& [key, w] : weights) {
    const std::string prefix = "base_model.model." + LinearModulePath(key.first, key.second);
    tensors.push_back(TensorData::FromFloat(prefix + ".lora_A.weight", dtype, {w.r, w.in_features}, w.a));
    tensors.push_back(TensorData::FromFloat(prefix + ".lora_B.weight", dtype, {w.out_features, w.r}, w.b));
  }
  RITSU_RETURN_IF_ERROR(WriteFileAtomic((fs::path(dir) / "adapter_config.json").string(), j.dump(2) + "\n"));
  return WriteSafetensors((fs::path(dir) / "adapter_model.safetensors").string(), tensors, {{"format", "pt"}});
}

}  // namespace ritsu::engine
