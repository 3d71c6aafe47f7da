#include "engine/tokenizer/tokenizer.h"

#include <filesystem>
#include <unordered_map>

#include <fmt/format.h>

#include "engine/tokenizer/added_tokens.h"
#include "engine/tokenizer/bpe.h"
#include "engine/tokenizer/byte_level.h"
#include "engine/tokenizer/regex_splitter.h"
#include "engine/tokenizer/tokenizer_json.h"
#include "engine/tokenizer/utf8.h"

namespace ritsu::tokenizer {

struct Tokenizer::Impl {
  std::unique_ptr<BpeModel> bpe;
  std::unique_ptr<RegexSplitter> splitter;
  bool nfc = false;
  AddedTokenMatcher raw_matcher;         // added tokens with normalized=false
  AddedTokenMatcher normalized_matcher;  // added tokens with normalized=true
  std::unordered_map<int32_t, AddedToken> added_by_id;
  std::unordered_map<std::string, int32_t> added_by_content;
  int32_t vocab_size = 0;
  int32_t eos = -1, pad = -1, im_start = -1, im_end = -1, endoftext = -1;
  ChatTemplateStyle chat_style = ChatTemplateStyle::kChatml;

  // Pre-tokenizes and BPE-encodes normalized text that holds no added tokens.
  void EncodePlain(std::string_view text, std::vector<int32_t>* ids) const {
    std::vector<std::string_view> words;
    splitter->Split(text, &words);
    std::string byte_level;
    for (std::string_view w : words) {
      byte_level.clear();
      GetByteLevelAlphabet().Encode(w, &byte_level);
      bpe->Tokenize(byte_level, ids);
    }
  }

  std::optional<int32_t> Lookup(std::string_view token) const {
    if (const auto it = added_by_content.find(std::string(token)); it != added_by_content.end()) return it->second;
    return bpe->TokenToId(token);
  }
};

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Result<Tokenizer> Tokenizer::Load(const std::string& model_dir_or_file) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const bool is_dir = fs::is_directory(model_dir_or_file, ec);
  const fs::path json_path = is_dir ? fs::path(model_dir_or_file) / "tokenizer.json" : fs::path(model_dir_or_file);
  const fs::path config_path = json_path.parent_path() / "tokenizer_config.json";

  RITSU_ASSIGN_OR_RETURN(std::string text, ReadFileToString(json_path.string()));
  RITSU_ASSIGN_OR_RETURN(TokenizerSpec spec, ParseTokenizerJson(text, json_path.string()));
  text.clear();
  text.shrink_to_fit();

  auto impl = std::make_unique<Impl>();
  impl->nfc = spec.nfc;
  auto splitter = RegexSplitter::Create(spec.split_pattern);
  if (!splitter.ok()) return splitter.status().Annotate(json_path.string() + ": pre_tokenizer Split pattern");
  impl->splitter = std::move(splitter).value();

  auto bpe = BpeModel::Create(std::move(spec.vocab), spec.merges, spec.ignore_merges, spec.unk_token);
  if (!bpe.ok()) return bpe.status().Annotate(json_path.string());
  impl->bpe = std::move(bpe).value();
  impl->vocab_size = impl->bpe->size();

  std::vector<AddedToken> raw, normalized;
  for (const AddedToken& t : spec.added_tokens) {
    impl->added_by_id[t.id] = t;
    impl->added_by_content[t.content] = t.id;
    impl->vocab_size = std::max(impl->vocab_size, t.id + 1);
    if (t.normalized) {
      AddedToken n = t;
      if (spec.nfc) n.content = NfcNormalize(n.content);
      normalized.push_back(std::move(n));
    } else {
      raw.push_back(t);
    }
  }
  impl->raw_matcher = AddedTokenMatcher(std::move(raw));
  impl->normalized_matcher = AddedTokenMatcher(std::move(normalized));

  TokenizerConfig cfg;
  if (fs::exists(config_path, ec)) {
    RITSU_ASSIGN_OR_RETURN(std::string cfg_text, ReadFileToString(config_path.string()));
    RITSU_ASSIGN_OR_RETURN(cfg, ParseTokenizerConfig(cfg_text, config_path.string()));
  }
  impl->chat_style = DetectChatTemplateStyle(cfg.chat_template);

  // Ids the engine needs by name: missing ones are an error of the file that names them.
  const auto need = [&](const std::string& content, const std::string& file, const std::string& what) -> Result<int32_t> {
    const auto id = impl->Lookup(content);
    if (!id) {
      return Status::InvalidArgument(fmt::format("{}: {} \"{}\" is not a token of {}", file, what, content,
                                                 json_path.string()));
    }
    return *id;
  };
  const std::string jp = json_path.string(), cp = config_path.string();
  RITSU_ASSIGN_OR_RETURN(impl->endoftext, need("<|endoftext|>", jp, "ChatML token"));
  RITSU_ASSIGN_OR_RETURN(impl->im_start, need("<|im_start|>", jp, "ChatML token"));
  RITSU_ASSIGN_OR_RETURN(impl->im_end, need("<|im_end|>", jp, "ChatML token"));
  RITSU_ASSIGN_OR_RETURN(impl->eos, need(cfg.eos_token.value_or("<|endoftext|>"), cfg.eos_token ? cp : jp, "eos_token"));
  RITSU_ASSIGN_OR_RETURN(impl->pad, need(cfg.pad_token.value_or("<|endoftext|>"), cfg.pad_token ? cp : jp, "pad_token"));
  return Tokenizer(std::move(impl));
}

std::vector<int32_t> Tokenizer::Encode(std::string_view input, bool /*add_special_tokens*/) const {
  const Impl& im = *impl_;
  std::string repaired;
  std::string_view text = input;
  if (!IsValidUtf8(input)) {
    repaired = RepairUtf8(input);
    text = repaired;
  }
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 2 + 1);
  std::vector<Segment> raw_segments, norm_segments;
  im.raw_matcher.Split(text, &raw_segments);
  for (const Segment& seg : raw_segments) {
    if (seg.id >= 0) {
      ids.push_back(seg.id);
      continue;
    }
    const std::string_view piece = text.substr(seg.begin, seg.end - seg.begin);
    const std::string normalized = im.nfc ? NfcNormalize(piece) : std::string(piece);
    norm_segments.clear();
    im.normalized_matcher.Split(normalized, &norm_segments);
    for (const Segment& ns : norm_segments) {
      if (ns.id >= 0) {
        ids.push_back(ns.id);
      } else {
        im.EncodePlain(std::string_view(normalized).substr(ns.begin, ns.end - ns.begin), &ids);
      }
    }
  }
  return ids;
}

void Tokenizer::AppendTokenBytes(int32_t id, bool skip_special, std::string* bytes) const {
  const Impl& im = *impl_;
  const std::string* token = nullptr;
  if (const auto it = im.added_by_id.find(id); it != im.added_by_id.end()) {
    if (skip_special && it->second.special) return;
    token = &it->second.content;
  } else {
    token = im.bpe->IdToToken(id);
  }
  if (token == nullptr) return;
  // HF's ByteLevel decoder: a token whose characters are all in the byte-level alphabet
  // stands for those bytes; any other token stands for its own UTF-8 text.
  const size_t mark = bytes->size();
  if (!GetByteLevelAlphabet().Decode(*token, bytes)) {
    bytes->resize(mark);
    bytes->append(*token);
  }
}

std::string Tokenizer::Decode(std::span<const int32_t> ids, bool skip_special) const {
  std::string bytes;
  for (int32_t id : ids) AppendTokenBytes(id, skip_special, &bytes);
  return RepairUtf8(bytes);
}

std::string Tokenizer::ApplyChatTemplate(const std::vector<ChatMessage>& messages,
                                         bool add_generation_prompt, bool enable_thinking) const {
  return RenderChatTemplate(impl_->chat_style, messages, add_generation_prompt, enable_thinking);
}

ChatTemplateStyle Tokenizer::chat_template_style() const { return impl_->chat_style; }
int32_t Tokenizer::vocab_size() const { return impl_->vocab_size; }
std::optional<int32_t> Tokenizer::TokenId(std::string_view token) const { return impl_->Lookup(token); }

std::optional<std::string> Tokenizer::IdToToken(int32_t id) const {
  if (const auto it = impl_->added_by_id.find(id); it != impl_->added_by_id.end()) return it->second.content;
  if (const std::string* t = impl_->bpe->IdToToken(id)) return *t;
  return std::nullopt;
}

bool Tokenizer::IsSpecial(int32_t id) const {
  const auto it = impl_->added_by_id.find(id);
  return it != impl_->added_by_id.end() && it->second.special;
}

int32_t Tokenizer::eos_id() const { return impl_->eos; }
int32_t Tokenizer::pad_id() const { return impl_->pad; }
int32_t Tokenizer::im_start_id() const { return impl_->im_start; }
int32_t Tokenizer::im_end_id() const { return impl_->im_end; }
int32_t Tokenizer::endoftext_id() const { return impl_->endoftext; }

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer, bool skip_special)
    : tokenizer_(&tokenizer), skip_special_(skip_special) {}

std::string StreamDecoder::Push(int32_t id) {
  tokenizer_->AppendTokenBytes(id, skip_special_, &pending_);
  const size_t hold = IncompleteUtf8Tail(pending_);
  const size_t ready = pending_.size() - hold;
  std::string out = RepairUtf8(std::string_view(pending_).substr(0, ready));
  pending_.erase(0, ready);
  return out;
}

std::string StreamDecoder::Flush() {
  std::string out = RepairUtf8(pending_);
  pending_.clear();
  return out;
}

}  // namespace ritsu::tokenizer
