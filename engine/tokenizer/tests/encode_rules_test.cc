// Encoding rules on the tiny tokenizer, where the expected ids can be worked out by hand:
// merge order by rank, leftmost tie-break, ignore_merges, and the added-token flags
// (special, lstrip, rstrip, single_word, normalized) as HF tokenizers applies them, and the
// Oniguruma -> PCRE2 pattern translation.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/tokenizer/regex_splitter.h"
#include "engine/tokenizer/tests/tiny_tokenizer.h"
#include "engine/tokenizer/tokenizer.h"

namespace ritsu::tokenizer {
namespace {

using nlohmann::json;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Not;
using testing::TempDir;
using testing::TinyTokenizerJson;

Tokenizer LoadTiny(const json& j) {
  TempDir dir;
  dir.Write("tokenizer.json", j.dump());
  auto r = Tokenizer::Load(dir.path());
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return std::move(r).value();
}

constexpr int32_t kA = 'a', kB = 'b', kC = 'c', kX = 'x';

TEST(EncodeRules, MergesApplyByRank) {
  const Tokenizer tok = LoadTiny(TinyTokenizerJson());
  // (a,b) rank 0 beats (b,c) rank 2; then (ab,c) rank 1 gives "abc".
  EXPECT_THAT(tok.Encode("abc"), ElementsAre(257));
  EXPECT_THAT(tok.Encode("bc"), ElementsAre(258));
  EXPECT_THAT(tok.Encode("xabc"), ElementsAre(kX, 257));
  // Equal ranks: both pairs merge, leftmost first.
  EXPECT_THAT(tok.Encode("abab"), ElementsAre(256, 256));
  // The regex keeps a leading space with the letters; the byte-level space is 'Ġ'.
  EXPECT_THAT(tok.Encode(" a"), ElementsAre(259));
  EXPECT_THAT(tok.Encode(""), ElementsAre());
}

TEST(EncodeRules, IgnoreMergesTakesWholeWordsFromVocab) {
  json j = TinyTokenizerJson();
  j["model"]["vocab"]["ca"] = 264;  // reachable by no merge
  j["added_tokens"].clear();
  for (const auto& [content, id] : {std::pair{"<|endoftext|>", 265}, {"<|im_start|>", 266}, {"<|im_end|>", 267}}) {
    j["added_tokens"].push_back({{"id", id}, {"content", content}, {"special", true}, {"normalized", false}});
  }
  EXPECT_THAT(LoadTiny(j).Encode("ca"), ElementsAre(kC, kA));
  j["model"]["ignore_merges"] = true;
  EXPECT_THAT(LoadTiny(j).Encode("ca"), ElementsAre(264));
  EXPECT_THAT(LoadTiny(j).Encode("abc"), ElementsAre(257));  // in vocab too
}

TEST(EncodeRules, MergesWrittenAsStringsMeanTheSame) {
  json j = TinyTokenizerJson();
  json merges = json::array();
  for (const auto& m : j["model"]["merges"]) merges.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
  j["model"]["merges"] = merges;  // the older "left right" spelling (Qwen2.5's files)
  const Tokenizer tok = LoadTiny(j);
  EXPECT_THAT(tok.Encode("xabc abab"), ElementsAre(kX, 257, ' ', 256, 256));  // (a,b) outranks (Ġ,a)
}

TEST(EncodeRules, AddedTokensAreCutOutBeforeSplitting) {
  const Tokenizer tok = LoadTiny(TinyTokenizerJson());
  EXPECT_THAT(tok.Encode("a<|im_end|>b"), ElementsAre(kA, 262, kB));
  EXPECT_THAT(tok.Encode("<|im_start|><|im_end|>"), ElementsAre(261, 262));
  EXPECT_THAT(tok.Encode("<x>"), ElementsAre(263));
  // Without lstrip/rstrip the spaces around stay text.
  EXPECT_THAT(tok.Encode("a <|im_end|>"), ElementsAre(kA, ' ', 262)  /* id of byte 0x20 ('Ġ') */);
}

TEST(EncodeRules, LstripAndRstripSwallowWhitespace) {
  json j = TinyTokenizerJson();
  j["added_tokens"][2]["lstrip"] = true;
  j["added_tokens"][2]["rstrip"] = true;
  EXPECT_THAT(LoadTiny(j).Encode("a  <|im_end|> \t b"), ElementsAre(kA, 262, kB));
  j["added_tokens"][2]["lstrip"] = false;
  EXPECT_THAT(LoadTiny(j).Encode("a <|im_end|>  b"), ElementsAre(kA, ' ', 262, kB));
}

TEST(EncodeRules, SingleWordTokensOnlyMatchAlone) {
  json j = TinyTokenizerJson();
  j["added_tokens"][3]["single_word"] = true;
  const Tokenizer tok = LoadTiny(j);
  EXPECT_THAT(tok.Encode("a<x>b"), Not(Contains(263)));
  EXPECT_THAT(tok.Encode("a <x> b"), Contains(263));
}

TEST(EncodeRules, NormalizedTokensMatchAfterNfc) {
  json j = TinyTokenizerJson();
  // Content written decomposed; it is matched in its NFC form on the NFC-normalized text.
  j["added_tokens"].push_back({{"id", 264}, {"content", "e\u0301"}, {"special", false}, {"normalized", true}});
  const Tokenizer tok = LoadTiny(j);
  EXPECT_THAT(tok.Encode("x\u00e9"), ElementsAre(kX, 264));
  EXPECT_THAT(tok.Encode("xe\u0301"), ElementsAre(kX, 264));
}

TEST(EncodeRules, DecodeSkipsOnlySpecialAddedTokens) {
  const Tokenizer tok = LoadTiny(TinyTokenizerJson());
  const std::vector<int32_t> ids = {261, 257, 263, 262};
  EXPECT_EQ(tok.Decode(ids), "<|im_start|>abc<x><|im_end|>");
  EXPECT_EQ(tok.Decode(ids, /*skip_special=*/true), "abc<x>");
  EXPECT_TRUE(tok.IsSpecial(262));
  EXPECT_FALSE(tok.IsSpecial(263));
  EXPECT_EQ(tok.TokenId("<x>"), 263);
  EXPECT_EQ(tok.TokenId("abc"), 257);
  EXPECT_EQ(tok.TokenId("nope"), std::nullopt);
  EXPECT_EQ(tok.IdToToken(259), "\u0120a");
  // Unknown ids are skipped, as HF does.
  EXPECT_EQ(tok.Decode(std::vector<int32_t>{kA, 99999, -1, kB}), "ab");
}

}  // namespace
}  // namespace ritsu::tokenizer

namespace ritsu::tokenizer {
namespace {

TEST(RegexTranslation, WhitespaceEscapesBecomeExplicitWhiteSpaceClasses) {
  auto r = TranslateOnigurumaPattern(R"(\s+(?!\S)|[^\s\p{L}]|\\s)");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const std::string& p = r.value();
  EXPECT_EQ(p.find("\\s"), p.rfind("\\s")) << p;  // only the escaped-backslash "\\s" is left
  EXPECT_NE(p.find("[^\\t\\n"), std::string::npos) << p;   // \S and [^\s...]
  EXPECT_NE(p.find("\\x{3000}]+(?!"), std::string::npos) << p;
  EXPECT_FALSE(TranslateOnigurumaPattern(R"([\S])").ok());
}

TEST(RegexTranslation, MongolianVowelSeparatorIsNotWhitespace) {
  auto splitter = RegexSplitter::Create(R"(\s+)");
  ASSERT_TRUE(splitter.ok());
  std::vector<std::string_view> pieces;
  (*splitter)->Split("a\u180eb", &pieces);
  EXPECT_EQ(pieces.size(), 1u);
  pieces.clear();
  (*splitter)->Split("a\u3000b", &pieces);
  EXPECT_EQ(pieces.size(), 3u);
}

}  // namespace
}  // namespace ritsu::tokenizer
