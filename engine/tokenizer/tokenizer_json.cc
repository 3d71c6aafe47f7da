#include "engine/tokenizer/tokenizer_json.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace ritsu::tokenizer {
namespace {

using nlohmann::json;

// The GPT-2 pre-tokenizer regex that ByteLevel(use_regex=true) applies; only used for
// tokenizer.json files that rely on it instead of an explicit Split.
constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// Error helpers: every message starts with "<file>: field <name>".
Status FieldError(const std::string& path, const std::string& field, const std::string& what) {
  return Status::InvalidArgument(fmt::format("{}: field {} {}", path, field, what));
}

std::string Describe(const json& v) {
  std::string s = v.dump();
  if (s.size() > 80) s = s.substr(0, 77) + "...";
  return s;
}

Result<const json*> Member(const json& obj, const std::string& key, const std::string& path,
                           const std::string& field) {
  if (!obj.is_object()) return FieldError(path, field, "is missing (its parent is not an object)");
  const auto it = obj.find(key);
  if (it == obj.end()) return FieldError(path, field, "is missing");
  return &*it;
}

Result<std::string> StringMember(const json& obj, const std::string& key, const std::string& path,
                                 const std::string& field) {
  RITSU_ASSIGN_OR_RETURN(const json* v, Member(obj, key, path, field));
  if (!v->is_string()) return FieldError(path, field, "must be a string, got " + Describe(*v));
  return v->get<std::string>();
}

// Optional boolean: absent or null -> default.
Result<bool> BoolMember(const json& obj, const std::string& key, bool dflt, const std::string& path,
                        const std::string& field) {
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return dflt;
  if (!it->is_boolean()) return FieldError(path, field, "must be true or false, got " + Describe(*it));
  return it->get<bool>();
}

// A regex that matches `literal` exactly (Split patterns may be {"String": "..."}).
std::string EscapeForRegex(const std::string& literal) {
  std::string out;
  for (char c : literal) {
    if (std::strchr("\\^$.|?*+()[]{}-/ #", c) && c != '\0') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

Status ParseModel(const json& root, const std::string& path, TokenizerSpec* spec) {
  RITSU_ASSIGN_OR_RETURN(const json* model, Member(root, "model", path, "model"));
  RITSU_ASSIGN_OR_RETURN(std::string type, StringMember(*model, "type", path, "model.type"));
  if (type != "BPE") {
    return FieldError(path, "model.type", fmt::format(
        "is \"{}\"; ritsu reads only byte-level BPE tokenizers (model.type \"BPE\", as Qwen uses)", type));
  }
  if (const auto it = model->find("dropout"); it != model->end() && !it->is_null()) {
    return FieldError(path, "model.dropout", "is " + Describe(*it) + "; only null (no BPE dropout) is supported");
  }
  RITSU_ASSIGN_OR_RETURN(bool byte_fallback, BoolMember(*model, "byte_fallback", false, path, "model.byte_fallback"));
  if (byte_fallback) return FieldError(path, "model.byte_fallback", "is true; byte-level BPE never needs it and it is not supported");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    const auto it = model->find(key);
    if (it != model->end() && !it->is_null() && !(it->is_string() && it->get<std::string>().empty())) {
      return FieldError(path, std::string("model.") + key, "is " + Describe(*it) + "; only \"\" or null is supported");
    }
  }
  RITSU_ASSIGN_OR_RETURN(spec->ignore_merges, BoolMember(*model, "ignore_merges", false, path, "model.ignore_merges"));
  if (const auto it = model->find("unk_token"); it != model->end() && !it->is_null()) {
    if (!it->is_string()) return FieldError(path, "model.unk_token", "must be a string or null");
    spec->unk_token = it->get<std::string>();
  }

  RITSU_ASSIGN_OR_RETURN(const json* vocab, Member(*model, "vocab", path, "model.vocab"));
  if (!vocab->is_object()) return FieldError(path, "model.vocab", "must be an object of token -> id");
  spec->vocab.reserve(vocab->size());
  for (const auto& [tok, id] : vocab->items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX) {
      return FieldError(path, fmt::format("model.vocab[{}]", json(tok).dump()), "must be an id >= 0, got " + Describe(id));
    }
    spec->vocab.emplace(tok, static_cast<int32_t>(id.get<int64_t>()));
  }

  RITSU_ASSIGN_OR_RETURN(const json* merges, Member(*model, "merges", path, "model.merges"));
  if (!merges->is_array()) return FieldError(path, "model.merges", "must be an array");
  spec->merges.reserve(merges->size());
  for (size_t i = 0; i < merges->size(); ++i) {
    const json& m = (*merges)[i];
    // Two spellings exist: "a b" (older files) and ["a", "b"] (tokenizers >= 0.20).
    if (m.is_string()) {
      const std::string s = m.get<std::string>();
      const size_t sp = s.find(' ');
      if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos) {
        return FieldError(path, fmt::format("model.merges[{}]", i), "must be \"left right\", got " + Describe(m));
      }
      spec->merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      spec->merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    } else {
      return FieldError(path, fmt::format("model.merges[{}]", i), "must be \"left right\" or [left, right], got " + Describe(m));
    }
  }
  return Status::Ok();
}

Status ParseNormalizer(const json& root, const std::string& path, TokenizerSpec* spec) {
  const auto it = root.find("normalizer");
  if (it == root.end() || it->is_null()) return Status::Ok();
  RITSU_ASSIGN_OR_RETURN(std::string type, StringMember(*it, "type", path, "normalizer.type"));
  if (type != "NFC") return FieldError(path, "normalizer.type", "is \"" + type + "\"; only NFC or null is supported");
  spec->nfc = true;
  return Status::Ok();
}

Status ParseSplit(const json& split, const std::string& path, const std::string& field, TokenizerSpec* spec) {
  RITSU_ASSIGN_OR_RETURN(const json* pattern, Member(split, "pattern", path, field + ".pattern"));
  if (pattern->is_object() && pattern->contains("Regex") && (*pattern)["Regex"].is_string()) {
    spec->split_pattern = (*pattern)["Regex"].get<std::string>();
  } else if (pattern->is_object() && pattern->contains("String") && (*pattern)["String"].is_string()) {
    spec->split_pattern = EscapeForRegex((*pattern)["String"].get<std::string>());
  } else {
    return FieldError(path, field + ".pattern", "must be {\"Regex\": ...} or {\"String\": ...}, got " + Describe(*pattern));
  }
  RITSU_ASSIGN_OR_RETURN(std::string behavior, StringMember(split, "behavior", path, field + ".behavior"));
  if (behavior != "Isolated") return FieldError(path, field + ".behavior", "is \"" + behavior + "\"; only \"Isolated\" is supported");
  RITSU_ASSIGN_OR_RETURN(bool invert, BoolMember(split, "invert", false, path, field + ".invert"));
  if (invert) return FieldError(path, field + ".invert", "is true; only false is supported");
  return Status::Ok();
}

// ByteLevel as pre-tokenizer, post-processor or decoder: add_prefix_space must be false.
Status CheckByteLevel(const json& bl, const std::string& path, const std::string& field, bool* use_regex) {
  RITSU_ASSIGN_OR_RETURN(bool prefix, BoolMember(bl, "add_prefix_space", false, path, field + ".add_prefix_space"));
  if (prefix) return FieldError(path, field + ".add_prefix_space", "is true; only false is supported");
  RITSU_ASSIGN_OR_RETURN(*use_regex, BoolMember(bl, "use_regex", true, path, field + ".use_regex"));
  return Status::Ok();
}

Status ParsePreTokenizer(const json& root, const std::string& path, TokenizerSpec* spec) {
  RITSU_ASSIGN_OR_RETURN(const json* pre, Member(root, "pre_tokenizer", path, "pre_tokenizer"));
  RITSU_ASSIGN_OR_RETURN(std::string type, StringMember(*pre, "type", path, "pre_tokenizer.type"));
  bool use_regex = false;
  if (type == "ByteLevel") {
    RITSU_RETURN_IF_ERROR(CheckByteLevel(*pre, path, "pre_tokenizer", &use_regex));
    if (!use_regex) return FieldError(path, "pre_tokenizer.use_regex", "is false with no Split before it; words would never be split");
    spec->split_pattern = kGpt2Pattern;
    return Status::Ok();
  }
  if (type != "Sequence") {
    return FieldError(path, "pre_tokenizer.type", "is \"" + type + "\"; expected Sequence [Split, ByteLevel] or ByteLevel");
  }
  RITSU_ASSIGN_OR_RETURN(const json* list, Member(*pre, "pretokenizers", path, "pre_tokenizer.pretokenizers"));
  const auto shape_error = FieldError(path, "pre_tokenizer.pretokenizers",
                                      "must be [Split (Regex, Isolated), ByteLevel (use_regex false)], got " + Describe(*list));
  if (!list->is_array() || list->size() != 2) return shape_error;
  RITSU_ASSIGN_OR_RETURN(std::string t0, StringMember((*list)[0], "type", path, "pre_tokenizer.pretokenizers[0].type"));
  RITSU_ASSIGN_OR_RETURN(std::string t1, StringMember((*list)[1], "type", path, "pre_tokenizer.pretokenizers[1].type"));
  if (t0 != "Split" || t1 != "ByteLevel") return shape_error;
  RITSU_RETURN_IF_ERROR(ParseSplit((*list)[0], path, "pre_tokenizer.pretokenizers[0]", spec));
  RITSU_RETURN_IF_ERROR(CheckByteLevel((*list)[1], path, "pre_tokenizer.pretokenizers[1]", &use_regex));
  if (use_regex) {
    return FieldError(path, "pre_tokenizer.pretokenizers[1].use_regex", "is true; a second GPT-2 split after Split is not supported");
  }
  return Status::Ok();
}

Status ParseDecoderAndPostProcessor(const json& root, const std::string& path) {
  RITSU_ASSIGN_OR_RETURN(const json* dec, Member(root, "decoder", path, "decoder"));
  RITSU_ASSIGN_OR_RETURN(std::string dtype, StringMember(*dec, "type", path, "decoder.type"));
  if (dtype != "ByteLevel") return FieldError(path, "decoder.type", "is \"" + dtype + "\"; only ByteLevel is supported");
  const auto it = root.find("post_processor");
  if (it != root.end() && !it->is_null()) {
    RITSU_ASSIGN_OR_RETURN(std::string ptype, StringMember(*it, "type", path, "post_processor.type"));
    // ByteLevel post-processing only trims offsets; it adds no tokens.
    if (ptype != "ByteLevel") {
      return FieldError(path, "post_processor.type", "is \"" + ptype + "\"; only ByteLevel or null is supported");
    }
  }
  return Status::Ok();
}

Status ParseAddedTokens(const json& root, const std::string& path, TokenizerSpec* spec) {
  const auto it = root.find("added_tokens");
  if (it == root.end() || it->is_null()) return Status::Ok();
  if (!it->is_array()) return FieldError(path, "added_tokens", "must be an array");
  for (size_t i = 0; i < it->size(); ++i) {
    const json& t = (*it)[i];
    const std::string f = fmt::format("added_tokens[{}]", i);
    AddedToken tok;
    RITSU_ASSIGN_OR_RETURN(const json* id, Member(t, "id", path, f + ".id"));
    if (!id->is_number_integer() || id->get<int64_t>() < 0 || id->get<int64_t>() > INT32_MAX) {
      return FieldError(path, f + ".id", "must be an id >= 0, got " + Describe(*id));
    }
    tok.id = static_cast<int32_t>(id->get<int64_t>());
    RITSU_ASSIGN_OR_RETURN(tok.content, StringMember(t, "content", path, f + ".content"));
    if (tok.content.empty()) return FieldError(path, f + ".content", "is empty");
    RITSU_ASSIGN_OR_RETURN(tok.special, BoolMember(t, "special", false, path, f + ".special"));
    RITSU_ASSIGN_OR_RETURN(tok.lstrip, BoolMember(t, "lstrip", false, path, f + ".lstrip"));
    RITSU_ASSIGN_OR_RETURN(tok.rstrip, BoolMember(t, "rstrip", false, path, f + ".rstrip"));
    // HF's default for normalized is !special.
    RITSU_ASSIGN_OR_RETURN(tok.normalized, BoolMember(t, "normalized", !tok.special, path, f + ".normalized"));
    RITSU_ASSIGN_OR_RETURN(tok.single_word, BoolMember(t, "single_word", false, path, f + ".single_word"));
    spec->added_tokens.push_back(std::move(tok));
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> ReadFileToString(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int e = errno;
    if (e == ENOENT) return Status::NotFound(path + ": no such file");
    return Status::IOError(fmt::format("{}: cannot open: {}", path, std::strerror(e)));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Status::IOError(path + ": read error");
  return ss.str();
}

Result<TokenizerSpec> ParseTokenizerJson(const std::string& text, const std::string& path) {
  json root;
  try {
    root = json::parse(text);
  } catch (const json::parse_error& e) {
    return Status::InvalidArgument(fmt::format("{}: not valid JSON (byte {}): {}", path, e.byte, e.what()));
  }
  if (!root.is_object()) return Status::InvalidArgument(path + ": top level must be a JSON object");
  TokenizerSpec spec;
  RITSU_RETURN_IF_ERROR(ParseModel(root, path, &spec));
  RITSU_RETURN_IF_ERROR(ParseNormalizer(root, path, &spec));
  RITSU_RETURN_IF_ERROR(ParsePreTokenizer(root, path, &spec));
  RITSU_RETURN_IF_ERROR(ParseDecoderAndPostProcessor(root, path));
  RITSU_RETURN_IF_ERROR(ParseAddedTokens(root, path, &spec));
  return spec;
}

Result<TokenizerConfig> ParseTokenizerConfig(const std::string& text, const std::string& path) {
  json root;
  try {
    root = json::parse(text);
  } catch (const json::parse_error& e) {
    return Status::InvalidArgument(fmt::format("{}: not valid JSON (byte {}): {}", path, e.byte, e.what()));
  }
  if (!root.is_object()) return Status::InvalidArgument(path + ": top level must be a JSON object");
  TokenizerConfig cfg;
  // eos_token / pad_token: a string, {"content": ...}, or null.
  for (auto [key, dst] : {std::pair{"eos_token", &cfg.eos_token}, std::pair{"pad_token", &cfg.pad_token}}) {
    const auto it = root.find(key);
    if (it == root.end() || it->is_null()) continue;
    if (it->is_string()) {
      *dst = it->get<std::string>();
    } else if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) {
      *dst = (*it)["content"].get<std::string>();
    } else {
      return FieldError(path, key, "must be a string, {\"content\": ...} or null, got " + Describe(*it));
    }
  }
  if (const auto it = root.find("chat_template"); it != root.end() && !it->is_null()) {
    if (it->is_string()) {
      cfg.chat_template = it->get<std::string>();
    } else if (it->is_array()) {
      // Older files hold named templates: [{"name": "default", "template": "..."}, ...].
      for (const json& t : *it) {
        if (t.is_object() && t.value("name", "") == "default" && t.contains("template") && t["template"].is_string()) {
          cfg.chat_template = t["template"].get<std::string>();
        }
      }
    } else {
      return FieldError(path, "chat_template", "must be a string or a list of named templates");
    }
  }
  return cfg;
}

}  // namespace ritsu::tokenizer
