// Bad tokenizer files: each is refused with a message naming the file and the field, and a
// valid tiny tokenizer of the same shape loads. The messages are what a user sees from
// `ritsu-engine tokenize --model DIR`, so they are checked by content.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/tokenizer/tests/tiny_tokenizer.h"
#include "engine/tokenizer/tokenizer.h"

namespace ritsu::tokenizer {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using testing::TempDir;
using testing::TinyTokenizerJson;

// Loads `j` written as tokenizer.json in a fresh directory; returns the error message ("" if ok).
std::string LoadError(const json& j) {
  TempDir dir;
  dir.Write("tokenizer.json", j.dump());
  auto r = Tokenizer::Load(dir.path());
  return r.ok() ? "" : r.status().message();
}

TEST(TokenizerLoad, TinyTokenizerLoads) {
  EXPECT_EQ(LoadError(TinyTokenizerJson()), "");
}

TEST(TokenizerLoad, MissingFileNamesThePath) {
  TempDir dir;
  auto r = Tokenizer::Load(dir.path());
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr(dir.path() + "/tokenizer.json"));
  EXPECT_EQ(r.status().code(), Status::Code::kNotFound);
}

TEST(TokenizerLoad, InvalidJsonNamesFileAndByte) {
  TempDir dir;
  dir.Write("tokenizer.json", "{\"model\": [1, 2,");
  auto r = Tokenizer::Load(dir.path());
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("tokenizer.json: not valid JSON (byte"));
}

TEST(TokenizerLoad, OtherModelTypeIsRefusedNamingTheField) {
  json j = TinyTokenizerJson();
  j["model"]["type"] = "WordPiece";
  const std::string msg = LoadError(j);
  EXPECT_THAT(msg, HasSubstr("tokenizer.json: field model.type is \"WordPiece\""));
  EXPECT_THAT(msg, HasSubstr("byte-level BPE"));
}

TEST(TokenizerLoad, NonByteLevelPieceIsRefusedNamingTheField) {
  {
    json j = TinyTokenizerJson();
    j["decoder"] = {{"type", "Metaspace"}, {"replacement", "\u2581"}};
    EXPECT_THAT(LoadError(j), HasSubstr("field decoder.type is \"Metaspace\""));
  }
  {
    json j = TinyTokenizerJson();
    j["pre_tokenizer"] = {{"type", "Metaspace"}};
    EXPECT_THAT(LoadError(j), HasSubstr("field pre_tokenizer.type is \"Metaspace\""));
  }
  {
    json j = TinyTokenizerJson();
    j["normalizer"] = {{"type", "NFKC"}};
    EXPECT_THAT(LoadError(j), HasSubstr("field normalizer.type is \"NFKC\""));
  }
  {
    json j = TinyTokenizerJson();
    j["post_processor"] = {{"type", "TemplateProcessing"}};
    EXPECT_THAT(LoadError(j), HasSubstr("field post_processor.type is \"TemplateProcessing\""));
  }
  {
    json j = TinyTokenizerJson();
    j["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "Removed";
    EXPECT_THAT(LoadError(j), HasSubstr("field pre_tokenizer.pretokenizers[0].behavior is \"Removed\""));
  }
  {
    json j = TinyTokenizerJson();
    j["model"]["byte_fallback"] = true;
    EXPECT_THAT(LoadError(j), HasSubstr("field model.byte_fallback is true"));
  }
}

TEST(TokenizerLoad, BrokenFieldsAreNamed) {
  {
    json j = TinyTokenizerJson();
    j["model"].erase("vocab");
    EXPECT_THAT(LoadError(j), HasSubstr("field model.vocab is missing"));
  }
  {
    json j = TinyTokenizerJson();
    j["model"]["merges"].push_back(json::array({"a", "zz"}));
    EXPECT_THAT(LoadError(j), HasSubstr("model.merges[4]"));
  }
  {
    json j = TinyTokenizerJson();
    j["model"]["merges"][1] = 42;
    EXPECT_THAT(LoadError(j), HasSubstr("field model.merges[1] must be"));
  }
  {
    json j = TinyTokenizerJson();
    j["added_tokens"][2]["id"] = "x";
    EXPECT_THAT(LoadError(j), HasSubstr("field added_tokens[2].id must be an id"));
  }
  {
    json j = TinyTokenizerJson();
    j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "(unclosed";
    EXPECT_THAT(LoadError(j), HasSubstr("does not compile"));
  }
}

TEST(TokenizerLoad, BadTokenizerConfigIsNamed) {
  TempDir dir;
  dir.Write("tokenizer.json", TinyTokenizerJson().dump());
  dir.Write("tokenizer_config.json", R"({"eos_token": "<|nope|>"})");
  auto r = Tokenizer::Load(dir.path());
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("tokenizer_config.json: eos_token \"<|nope|>\" is not a token of"));
}

TEST(TokenizerLoad, FilePathAndConfigBesideIt) {
  TempDir dir;
  const std::string file = dir.Write("tokenizer.json", TinyTokenizerJson().dump());
  dir.Write("tokenizer_config.json", R"({"eos_token": {"content": "<|im_end|>"}, "pad_token": "<|endoftext|>"})");
  auto r = Tokenizer::Load(file);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->eos_id(), 262);
  EXPECT_EQ(r->pad_id(), 260);
  EXPECT_EQ(r->im_start_id(), 261);
  EXPECT_EQ(r->vocab_size(), 264);
}

}  // namespace
}  // namespace ritsu::tokenizer
