// PEFT LoRA adapters: the directory HF peft writes (adapter_config.json +
// adapter_model.safetensors), loaded into fp32 host matrices and validated against a base
// model's config, and written back in the same layout so peft loads what ritsu trains.
//
// Tensor keys: base_model.model.model.layers.N.{self_attn,mlp}.<module>.lora_{A,B}.weight,
// A is [r, in_features], B is [out_features, r]; y = W x + scale * B (A x) with
// scale = lora_alpha / r, or lora_alpha / sqrt(r) when use_rslora.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "engine/model/config.h"
#include "engine/model/dtype.h"

namespace ritsu::engine {

// The seven linear layers of a Qwen decoder layer that LoRA can target.
enum class LinearModule { kQ, kK, kV, kO, kGate, kUp, kDown };
constexpr LinearModule kAllLinearModules[] = {LinearModule::kQ, LinearModule::kK, LinearModule::kV, LinearModule::kO,
                                              LinearModule::kGate, LinearModule::kUp, LinearModule::kDown};
// "q_proj", ..., "down_proj".
const char* LinearModuleName(LinearModule m);
// "self_attn" or "mlp".
const char* LinearModuleParent(LinearModule m);
// {out_features, in_features} of the module's weight for this config.
std::pair<int64_t, int64_t> LinearModuleShape(const ModelConfig& c, LinearModule m);
// "model.layers.3.self_attn.q_proj" (the HF module path).
std::string LinearModulePath(int64_t layer, LinearModule m);

struct LoraConfig {
  int64_t r = 8;
  double lora_alpha = 16;
  double lora_dropout = 0.0;
  bool use_rslora = false;
  std::vector<std::string> target_modules;  // short names: "q_proj", "v_proj", ...
  std::string base_model_name_or_path;
  // target_modules as a loaded adapter_config.json spells them (peft: a list of names, each
  // matching a module path exactly or as a dot-suffix, e.g. "q_proj", "self_attn.q_proj",
  // "model.layers.1.self_attn.v_proj"; or one regex string matched against the whole path).
  // Empty for adapters built here: then target_modules applies to every layer.
  std::vector<std::string> target_patterns;
  bool target_regex = false;

  double Scale() const;
  // Whether the module kind is targeted in at least one layer.
  bool Targets(LinearModule m) const;
  // Whether module `m` of decoder layer `layer` is targeted, as peft decides it.
  bool TargetsAt(int64_t layer, LinearModule m) const;
};

// Parses adapter_config.json text; `path` names the file in messages. Refuses what Load refuses
// (see below) with the field named.
Result<LoraConfig> ParseLoraConfig(const std::string& path, const std::string& text);
// Checks that every targeted module's A [r, in] and B [out, r] have byte sizes that fit in 64
// bits for this base (a corrupt or hostile r must not wrap a size computation).
// target_patterns (as read) -> target_modules: the short names targeted in some layer of `base`.
// A list entry that selects no decoder linear of any layer, or a config that selects none, is
// an error naming `path` and the entry. Load calls it; so must any other caller of
// ParseLoraConfig before Targets() means anything.
Status ResolveLoraTargets(const std::string& path, const ModelConfig& base, LoraConfig* config);
// Call after ResolveLoraTargets (it checks the modules Targets() names).
Status CheckLoraShapes(const ModelConfig& base, const LoraConfig& config, const std::string& source);

struct LoraWeights {
  int64_t r = 0, in_features = 0, out_features = 0;
  std::vector<float> a;  // [r, in_features]
  std::vector<float> b;  // [out_features, r]
};

class LoraAdapter {
 public:
  LoraConfig config;
  // Keyed by (layer, module).
  std::map<std::pair<int64_t, LinearModule>, LoraWeights> weights;

  const LoraWeights* Find(int64_t layer, LinearModule m) const;

  // Reads DIR/adapter_config.json and DIR/adapter_model.safetensors and checks them against
  // `base`: every tensor must be the A or B of a targeted module of an existing layer with the
  // shapes the base implies, every targeted module of every layer must be present. Refused
  // with the field or tensor named: DoRA, rank/alpha patterns, modules_to_save, bias != none.
  static Result<LoraAdapter> Load(const std::string& dir, const ModelConfig& base);

  // A fresh adapter for training, PEFT's default init: A ~ kaiming-uniform(a=sqrt(5)),
  // i.e. U(-1/sqrt(in), 1/sqrt(in)), B = 0.
  static LoraAdapter Init(const ModelConfig& base, const LoraConfig& config, uint64_t seed);

  // Writes DIR/adapter_config.json (PEFT fields) and DIR/adapter_model.safetensors with the
  // given storage dtype (fp32 keeps training masters exact).
  Status Save(const std::string& dir, DType dtype = DType::kF32) const;
};

}  // namespace ritsu::engine
