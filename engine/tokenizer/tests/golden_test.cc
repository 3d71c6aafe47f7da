// Token ids, decoded text and chat prompts compared with HF tokenizers / transformers goldens
// (tests/data/tokenizer/, written by tests/parity/tokenizer_goldens.py). Exact equality: a
// tokenizer has no tolerance, one differing id changes what the model sees.
#include <thread>

#include <gtest/gtest.h>

#include "engine/tokenizer/tests/qwen_tokenizer_fixture.h"
#include "engine/tokenizer/utf8.h"

namespace ritsu::tokenizer {
namespace {

using testing::HexToBytes;
using testing::QwenTokenizer;
using testing::ReadJsonLines;

std::string Name(const nlohmann::json& r) { return r.at("name").get<std::string>(); }

TEST(TokenizerGolden, EncodeMatchesHfOnEdgeCasesAndLawqa) {
  const auto records = ReadJsonLines("encode.jsonl");
  ASSERT_GT(records.size(), 1000u);
  size_t mismatches = 0;
  for (const auto& r : records) {
    const std::string text = r.contains("text_hex") ? HexToBytes(r["text_hex"].get<std::string>())
                                                    : r["text"].get<std::string>();
    const auto ids = QwenTokenizer().Encode(text);
    const auto want = r["ids"].get<std::vector<int32_t>>();
    if (ids != want && ++mismatches <= 10) {
      ADD_FAILURE() << "case " << Name(r) << ": " << ::testing::PrintToString(ids) << "\n  HF: "
                    << ::testing::PrintToString(want);
    }
  }
  EXPECT_EQ(mismatches, 0u) << "of " << records.size() << " cases";
}

TEST(TokenizerGolden, SpecialTokenIds) {
  const Tokenizer& tok = QwenTokenizer();
  // Values from tokenizer.json added_tokens and tokenizer_config.json (eos <|im_end|>, pad <|endoftext|>).
  EXPECT_EQ(tok.endoftext_id(), 151643);
  EXPECT_EQ(tok.im_start_id(), 151644);
  EXPECT_EQ(tok.im_end_id(), 151645);
  EXPECT_EQ(tok.eos_id(), 151645);
  EXPECT_EQ(tok.pad_id(), 151643);
  EXPECT_EQ(tok.vocab_size(), 151669);
  EXPECT_EQ(tok.TokenId("<think>"), 151667);
  EXPECT_TRUE(tok.IsSpecial(151645));
  EXPECT_FALSE(tok.IsSpecial(151667));  // <think> is an added token but not special
  // add_special_tokens adds nothing: Qwen's post-processor is ByteLevel.
  EXPECT_EQ(tok.Encode("hello", true), tok.Encode("hello", false));
}

TEST(TokenizerGolden, DecodeMatchesHf) {
  const auto records = ReadJsonLines("decode.jsonl");
  ASSERT_GT(records.size(), 10u);
  for (const auto& r : records) {
    const auto ids = r["ids"].get<std::vector<int32_t>>();
    EXPECT_EQ(QwenTokenizer().Decode(ids, r["skip_special"].get<bool>()), r["text"].get<std::string>())
        << "case " << Name(r) << " skip_special=" << r["skip_special"];
  }
}

TEST(TokenizerGolden, DecodeOfEncodeIsNfcOfInput) {
  for (const auto& r : ReadJsonLines("encode.jsonl")) {
    if (!r.contains("text")) continue;
    const std::string text = r["text"].get<std::string>();
    EXPECT_EQ(QwenTokenizer().Decode(QwenTokenizer().Encode(text)), NfcNormalize(text)) << "case " << Name(r);
  }
}

// Encode is const and shares a word cache; several threads must get the single-thread ids.
TEST(TokenizerGolden, ConcurrentEncodeGivesTheSameIds) {
  const auto records = ReadJsonLines("encode.jsonl");
  std::vector<std::thread> threads;
  std::vector<size_t> mismatches(4, 0);
  for (size_t t = 0; t < mismatches.size(); ++t) {
    threads.emplace_back([&, t] {
      for (size_t i = t; i < records.size(); i += 2) {  // overlapping halves: threads race on the cache
        if (!records[i].contains("text")) continue;
        if (QwenTokenizer().Encode(records[i]["text"].get<std::string>()) != records[i]["ids"].get<std::vector<int32_t>>()) {
          ++mismatches[t];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (size_t t = 0; t < mismatches.size(); ++t) EXPECT_EQ(mismatches[t], 0u) << "thread " << t;
}

TEST(TokenizerGolden, ChatTemplateMatchesTransformers) {
  const auto records = ReadJsonLines("chat.jsonl");
  ASSERT_GT(records.size(), 10u);
  EXPECT_EQ(QwenTokenizer().chat_template_style(), ChatTemplateStyle::kQwen3);
  for (const auto& r : records) {
    std::vector<ChatMessage> messages;
    for (const auto& m : r["messages"]) {
      ChatMessage msg{m.at("role").get<std::string>(), m.at("content").get<std::string>(), std::nullopt};
      if (m.contains("reasoning_content")) msg.reasoning_content = m["reasoning_content"].get<std::string>();
      messages.push_back(std::move(msg));
    }
    const std::string text = QwenTokenizer().ApplyChatTemplate(messages, r["add_generation_prompt"].get<bool>(),
                                                               r["enable_thinking"].get<bool>());
    const std::string where = Name(r) + " add_generation_prompt=" + r["add_generation_prompt"].dump() +
                              " enable_thinking=" + r["enable_thinking"].dump();
    EXPECT_EQ(text, r["text"].get<std::string>()) << where;
    EXPECT_EQ(QwenTokenizer().Encode(text), r["ids"].get<std::vector<int32_t>>()) << where;
  }
}

}  // namespace
}  // namespace ritsu::tokenizer
