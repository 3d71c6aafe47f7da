#include "engine/merge/tokenizer_metadata.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

namespace ritsu::merge {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int32_t kNormal = 1, kControl = 3, kUserDefined = 4, kUnused = 5;

Result<json> ReadJson(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return Status::NotFound(fmt::format("cannot read {}", path.string()));
  json j = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::InvalidArgument(fmt::format("{}: not valid JSON", path.string()));
  return j;
}

// Added tokens that are not flagged special but that llama.cpp still treats as control tokens
// because of their spelling (convert_hf_to_gguf.py does_token_look_special).
bool LooksSpecial(const std::string& t) {
  auto wrapped = [&](const std::string& open, const std::string& close) {
    return t.size() >= open.size() + close.size() && t.compare(0, open.size(), open) == 0 &&
           t.compare(t.size() - close.size(), close.size(), close) == 0;
  };
  return t == "<pad>" || t == "<mask>" || t == "<2mass>" || t == "[@BOS@]" || wrapped("<|", "|>") ||
         wrapped("<\xEF\xBD\x9C", "\xEF\xBD\x9C>") || wrapped("<unused", ">");
}

// A tokenizer_config.json special-token entry: a string, {"content": ...}, or null.
std::optional<std::string> TokenText(const json& cfg, const char* field) {
  if (!cfg.contains(field)) return std::nullopt;
  const json& v = cfg[field];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return std::nullopt;
}

}  // namespace

Result<TokenizerMetadata> LoadTokenizerMetadata(const std::string& dir, const engine::ModelConfig& config) {
  const fs::path tok_path = fs::path(dir) / "tokenizer.json";
  RITSU_ASSIGN_OR_RETURN(json tok, ReadJson(tok_path));
  const std::string where = tok_path.string();
  if (!tok.contains("model") || !tok["model"].is_object() || tok["model"].value("type", "") != "BPE") {
    return Status::InvalidArgument(where + ": field model.type must be \"BPE\" (a byte-level BPE tokenizer)");
  }
  const json& model = tok["model"];
  if (!model.contains("vocab") || !model["vocab"].is_object()) {
    return Status::InvalidArgument(where + ": field model.vocab must be an object of token -> id");
  }
  const int64_t n = config.vocab_size;
  TokenizerMetadata out;
  out.tokens.assign(static_cast<size_t>(n), "");
  out.token_types.assign(static_cast<size_t>(n), 0);
  std::map<std::string, int64_t> ids;
  auto place = [&](const std::string& text, const json& id_json, int32_t type) -> Status {
    if (!id_json.is_number_integer()) return Status::InvalidArgument(where + ": token " + text + " has a non-integer id");
    const int64_t id = id_json.get<int64_t>();
    if (id < 0 || id >= n) {
      return Status::InvalidArgument(fmt::format("{}: token {} has id {}, but config.json vocab_size is {}", where,
                                                 text, id, n));
    }
    out.tokens[id] = text;
    out.token_types[id] = type;
    ids[text] = id;
    return Status::Ok();
  };
  for (const auto& [text, id] : model["vocab"].items()) RITSU_RETURN_IF_ERROR(place(text, id, kNormal));
  if (tok.contains("added_tokens")) {
    for (const json& a : tok["added_tokens"]) {
      if (!a.is_object() || !a.contains("content") || !a["content"].is_string() || !a.contains("id")) {
        return Status::InvalidArgument(where + ": an added_tokens entry lacks content or id");
      }
      const std::string text = a["content"].get<std::string>();
      const bool special = a.value("special", false) || LooksSpecial(text);
      RITSU_RETURN_IF_ERROR(place(text, a["id"], special ? kControl : kUserDefined));
    }
  }
  for (int64_t id = 0; id < n; ++id) {
    if (out.token_types[id] == 0) {
      out.tokens[id] = fmt::format("[PAD{}]", id);
      out.token_types[id] = kUnused;
    }
  }
  if (model.contains("merges") && model["merges"].is_array()) {
    out.merges.reserve(model["merges"].size());
    for (const json& m : model["merges"]) {
      if (m.is_string()) {
        out.merges.push_back(m.get<std::string>());
      } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
        out.merges.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
      } else {
        return Status::InvalidArgument(where + ": model.merges entries must be \"a b\" strings or [a, b] pairs");
      }
    }
  }

  json cfg = json::object();
  const fs::path cfg_path = fs::path(dir) / "tokenizer_config.json";
  if (fs::exists(cfg_path)) {
    RITSU_ASSIGN_OR_RETURN(cfg, ReadJson(cfg_path));
  }
  auto special_id = [&](const char* field) -> std::optional<uint32_t> {
    auto text = TokenText(cfg, field);
    if (!text) return std::nullopt;
    auto it = ids.find(*text);
    if (it == ids.end()) return std::nullopt;
    return static_cast<uint32_t>(it->second);
  };
  out.bos_id = special_id("bos_token");
  if (!out.bos_id && config.bos_token_id >= 0) out.bos_id = static_cast<uint32_t>(config.bos_token_id);
  out.eos_id = special_id("eos_token");
  if (!out.eos_id && !config.eos_token_ids.empty()) out.eos_id = static_cast<uint32_t>(config.eos_token_ids[0]);
  out.pad_id = special_id("pad_token");
  out.add_bos_token = cfg.value("add_bos_token", false);
  if (cfg.contains("chat_template") && cfg["chat_template"].is_string()) {
    out.chat_template = cfg["chat_template"].get<std::string>();
  } else if (fs::exists(fs::path(dir) / "chat_template.jinja")) {
    std::ifstream in(fs::path(dir) / "chat_template.jinja");
    std::stringstream ss;
    ss << in.rdbuf();
    out.chat_template = ss.str();
  }
  return out;
}

void AddTokenizerMetadata(const TokenizerMetadata& tok, GgufWriter* w) {
  w->Set("tokenizer.ggml.model", GgufValue::Str("gpt2"));
  w->Set("tokenizer.ggml.pre", GgufValue::Str("qwen2"));
  w->Set("tokenizer.ggml.tokens", GgufValue::StrArray(tok.tokens));
  w->Set("tokenizer.ggml.token_type", GgufValue::I32Array(tok.token_types));
  w->Set("tokenizer.ggml.merges", GgufValue::StrArray(tok.merges));
  if (tok.eos_id) w->Set("tokenizer.ggml.eos_token_id", GgufValue::U32(*tok.eos_id));
  if (tok.pad_id) w->Set("tokenizer.ggml.padding_token_id", GgufValue::U32(*tok.pad_id));
  if (tok.bos_id) w->Set("tokenizer.ggml.bos_token_id", GgufValue::U32(*tok.bos_id));
  w->Set("tokenizer.ggml.add_bos_token", GgufValue::Bool(tok.add_bos_token));
  if (tok.chat_template) w->Set("tokenizer.chat_template", GgufValue::Str(*tok.chat_template));
}

}  // namespace ritsu::merge
