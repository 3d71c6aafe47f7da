#include "engine/eval/dataset.h"

#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "engine/eval/text_util.h"

namespace ritsu::eval {
namespace {

Status FieldError(const std::string& source, int index, const std::string& field,
                  const std::string& what) {
  return Status::InvalidArgument(fmt::format("{}: sample {}: field {}: {}", source, index, field, what));
}

Result<std::string> StringField(const nlohmann::json& obj, const std::string& source, int index,
                                const char* field, bool required) {
  auto it = obj.find(field);
  if (it == obj.end() || it->is_null()) {
    if (required) return FieldError(source, index, field, "missing");
    return std::string();
  }
  if (!it->is_string()) return FieldError(source, index, field, "must be a string, got " + std::string(it->type_name()));
  return it->get<std::string>();
}

// "a 文..." / "ａ．文..." / "(a) 文..." -> ('a', "文..."); 0 when the line does not start with a
// choice letter.
Choice SplitChoiceLine(const std::string& line) {
  std::string norm = Trim(NormalizeNfkc(line));
  size_t i = 0;
  if (i < norm.size() && norm[i] == '(') ++i;
  if (i >= norm.size()) return {};
  char c = norm[i];
  if (c >= 'A' && c <= 'D') c = static_cast<char>(c - 'A' + 'a');
  if (c < 'a' || c > 'd') return {};
  ++i;
  if (i < norm.size() && std::isalnum(static_cast<unsigned char>(norm[i]))) return {};
  while (i < norm.size() && (norm[i] == ')' || norm[i] == '.' || norm[i] == ':' || norm[i] == ' ')) ++i;
  // Keep the original (un-normalised) text of the choice body.
  std::string orig = Trim(line);
  std::string body = Trim(norm.substr(i));
  size_t pos = orig.find(body.substr(0, std::min<size_t>(body.size(), 6)));
  return {c, pos != std::string::npos && !body.empty() ? orig.substr(pos) : body};
}

}  // namespace

std::string Sample::Law() const {
  size_t p = file_name.find('_');
  if (file_name.empty()) return "unknown";
  return p == std::string::npos ? file_name : file_name.substr(0, p);
}

Result<std::vector<Sample>> ParseDataset(const std::string& text, const std::string& source) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    return Status::InvalidArgument(fmt::format("{}: not valid JSON: {}", source, e.what()));
  }
  const nlohmann::json* list = &doc;
  if (doc.is_object()) {
    auto it = doc.find("samples");
    if (it == doc.end()) return Status::InvalidArgument(source + ": an object must have a \"samples\" list");
    list = &*it;
  }
  if (!list->is_array()) return Status::InvalidArgument(source + ": expected a list of samples or {\"samples\": [...]}");
  if (list->empty()) return Status::InvalidArgument(source + ": no samples");

  std::vector<Sample> out;
  int index = 0;
  for (const auto& obj : *list) {
    if (!obj.is_object()) return Status::InvalidArgument(fmt::format("{}: sample {}: must be an object", source, index));
    Sample s;
    s.index = index;
    s.raw = obj;
    RITSU_ASSIGN_OR_RETURN(s.question, StringField(obj, source, index, "問題文", true));
    if (Trim(s.question).empty()) return FieldError(source, index, "問題文", "empty");
    RITSU_ASSIGN_OR_RETURN(s.context, StringField(obj, source, index, "コンテキスト", false));
    RITSU_ASSIGN_OR_RETURN(s.instruction, StringField(obj, source, index, "指示", false));
    RITSU_ASSIGN_OR_RETURN(s.file_name, StringField(obj, source, index, "ファイル名", false));

    auto ch = obj.find("選択肢");
    if (ch == obj.end()) return FieldError(source, index, "選択肢", "missing");
    std::vector<std::string> lines;
    if (ch->is_string()) {
      std::istringstream in(ch->get<std::string>());
      for (std::string line; std::getline(in, line);)
        if (!Trim(line).empty()) lines.push_back(line);
      s.choices_text = ch->get<std::string>();
    } else if (ch->is_array()) {
      for (const auto& c : *ch) {
        if (!c.is_string()) return FieldError(source, index, "選択肢", "list items must be strings");
        lines.push_back(c.get<std::string>());
      }
    } else {
      return FieldError(source, index, "選択肢", "must be a string or a list of strings");
    }
    for (const auto& line : lines) {
      Choice c = SplitChoiceLine(line);
      if (!c.letter) return FieldError(source, index, "選択肢", "line does not start with a choice letter a-d: \"" + line + "\"");
      s.choices.push_back(c);
    }
    if (s.choices.size() != 4)
      return FieldError(source, index, "選択肢", fmt::format("{} choices, need exactly four (a, b, c, d)", s.choices.size()));
    for (int k = 0; k < 4; ++k) {
      if (s.choices[k].letter != 'a' + k)
        return FieldError(source, index, "選択肢", fmt::format("choice {} is labelled {}, expected {}", k + 1, s.choices[k].letter, static_cast<char>('a' + k)));
    }
    if (s.choices_text.empty()) {
      for (const auto& c : s.choices) s.choices_text += std::string(1, c.letter) + " " + c.text + "\n";
      s.choices_text.pop_back();
    }

    RITSU_ASSIGN_OR_RETURN(std::string answer, StringField(obj, source, index, "output", true));
    std::string a = AsciiLower(Trim(NormalizeNfkc(answer)));
    if (a.size() != 1 || a[0] < 'a' || a[0] > 'd')
      return FieldError(source, index, "output", "answer must be one of a, b, c, d, got \"" + answer + "\"");
    s.answer = a[0];

    auto refs = obj.find("references");
    if (refs != obj.end() && refs->is_array()) {
      for (const auto& r : *refs)
        if (r.is_string()) s.references.push_back(r.get<std::string>());
    }
    out.push_back(std::move(s));
    ++index;
  }
  return out;
}

Result<std::vector<Sample>> LoadDataset(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot open dataset file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseDataset(ss.str(), path);
}

uint64_t SplitMix64Next(uint64_t* state) {
  // SplitMix64 (Steele, Lea, Flood 2014): a fixed, fully specified 64-bit generator.
  uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

std::vector<int> SeededPermutation(int n, uint64_t seed) {
  uint64_t state = seed;
  auto next = [&state]() { return SplitMix64Next(&state); };
  std::vector<int> p(n);
  for (int i = 0; i < n; ++i) p[i] = i;
  for (int i = n - 1; i > 0; --i) {
    const uint64_t bound = static_cast<uint64_t>(i) + 1;
    // Rejection sampling: draw below the largest multiple of `bound`, then reduce.
    const uint64_t limit = UINT64_MAX - (UINT64_MAX % bound);
    uint64_t r;
    do r = next(); while (r >= limit);
    std::swap(p[i], p[static_cast<int>(r % bound)]);
  }
  return p;
}

Result<Split> SplitDataset(const std::vector<Sample>& samples, int train_size, int test_size,
                           uint64_t seed) {
  if (train_size < 0 || test_size < 0)
    return Status::InvalidArgument("--train-size and --test-size must be >= 0");
  if (static_cast<size_t>(train_size) + static_cast<size_t>(test_size) > samples.size())
    return Status::InvalidArgument(fmt::format("--train-size {} + --test-size {} exceeds the {} samples in the file",
                                               train_size, test_size, samples.size()));
  std::vector<int> perm = SeededPermutation(static_cast<int>(samples.size()), seed);
  Split split;
  for (int i = 0; i < train_size; ++i) split.train.push_back(samples[perm[i]]);
  for (int i = train_size; i < train_size + test_size; ++i) split.test.push_back(samples[perm[i]]);
  return split;
}

std::map<std::string, int> LabelDistribution(const std::vector<Sample>& samples) {
  std::map<std::string, int> d{{"a", 0}, {"b", 0}, {"c", 0}, {"d", 0}};
  for (const auto& s : samples) ++d[std::string(1, s.answer)];
  return d;
}

std::map<std::string, int> LawDistribution(const std::vector<Sample>& samples) {
  std::map<std::string, int> d;
  for (const auto& s : samples) ++d[s.Law()];
  return d;
}

nlohmann::json SamplesToJson(const std::vector<Sample>& samples) {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& s : samples) arr.push_back(s.raw);
  return nlohmann::json{{"samples", arr}};
}

}  // namespace ritsu::eval
