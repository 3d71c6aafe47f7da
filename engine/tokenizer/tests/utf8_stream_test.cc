// UTF-8 repair (maximal-subpart replacement, as Python's errors="replace" and Rust's
// from_utf8_lossy do) and the streaming decoder, whose concatenated output must equal
// Decode of the whole sequence whatever the chunking.
#include <random>

#include <gtest/gtest.h>

#include "engine/tokenizer/tests/qwen_tokenizer_fixture.h"
#include "engine/tokenizer/utf8.h"

namespace ritsu::tokenizer {
namespace {

using testing::QwenTokenizer;
using testing::ReadJsonLines;

const std::string kFffd = "\xEF\xBF\xBD";

TEST(Utf8, RepairReplacesMaximalSubparts) {
  EXPECT_EQ(RepairUtf8("abc"), "abc");
  EXPECT_EQ(RepairUtf8("\xff"), kFffd);
  EXPECT_EQ(RepairUtf8("abc\xE3\x81"), "abc" + kFffd);              // truncated: one U+FFFD
  EXPECT_EQ(RepairUtf8("\xE3\x81\xE3\x81\x82"), kFffd + "\xE3\x81\x82");
  EXPECT_EQ(RepairUtf8("\xC0\xAF"), kFffd + kFffd);                 // overlong: each byte
  EXPECT_EQ(RepairUtf8("\xED\xA0\x80x"), kFffd + kFffd + kFffd + "x");  // surrogate
  EXPECT_EQ(RepairUtf8("\xF4\x90\x80\x80"), kFffd + kFffd + kFffd + kFffd);
  EXPECT_EQ(RepairUtf8("\xF0\x9F\x98"), kFffd);
  EXPECT_EQ(RepairUtf8(std::string("a\0b", 3)), std::string("a\0b", 3));
}

TEST(Utf8, IncompleteTailIsOnlyAValidPrefix) {
  EXPECT_EQ(IncompleteUtf8Tail(""), 0u);
  EXPECT_EQ(IncompleteUtf8Tail("abc"), 0u);
  EXPECT_EQ(IncompleteUtf8Tail("a\xE3"), 1u);
  EXPECT_EQ(IncompleteUtf8Tail("a\xE3\x81"), 2u);
  EXPECT_EQ(IncompleteUtf8Tail("a\xE3\x81\x82"), 0u);
  EXPECT_EQ(IncompleteUtf8Tail("\xF0\x9F\x98"), 3u);
  EXPECT_EQ(IncompleteUtf8Tail("a\xE3\x41"), 0u);  // broken, not incomplete: emit now
  EXPECT_EQ(IncompleteUtf8Tail("\xFF"), 0u);
  EXPECT_EQ(IncompleteUtf8Tail("\xED\xA0"), 0u);   // can never become valid (surrogate)
}

TEST(Utf8, NfcComposes) {
  EXPECT_EQ(NfcNormalize("Cafe\u0301"), "Caf\u00e9");
  EXPECT_EQ(NfcNormalize("\u304b\u3099"), "\u304c");
  EXPECT_EQ(NfcNormalize("plain ascii"), "plain ascii");
}

// Pushes ids one at a time and checks that every chunk is valid UTF-8 and the total equals
// Decode.
void ExpectStreamEqualsDecode(const std::vector<int32_t>& ids, bool skip_special) {
  StreamDecoder dec(QwenTokenizer(), skip_special);
  std::string streamed;
  for (int32_t id : ids) {
    const std::string chunk = dec.Push(id);
    EXPECT_TRUE(IsValidUtf8(chunk));
    streamed += chunk;
  }
  streamed += dec.Flush();
  EXPECT_EQ(streamed, QwenTokenizer().Decode(ids, skip_special));
}

TEST(StreamDecoder, HoldsBackSplitCharacters) {
  const Tokenizer& tok = QwenTokenizer();
  // "あ" is E3 81 82; the byte-level characters of those bytes are single tokens.
  const int32_t e3 = *tok.TokenId("\u00e3"), b81 = *tok.TokenId("\u0123"), b82 = *tok.TokenId("\u0124");
  ASSERT_EQ(tok.Decode(std::vector<int32_t>{e3, b81, b82}), "\u3042");
  StreamDecoder dec(tok);
  EXPECT_EQ(dec.Push(e3), "");
  EXPECT_EQ(dec.Push(b81), "");
  EXPECT_EQ(dec.Push(b82), "\u3042");
  EXPECT_EQ(dec.Push(e3), "");
  EXPECT_EQ(dec.Flush(), kFffd);  // an incomplete character at the very end
  EXPECT_EQ(dec.Flush(), "");
}

TEST(StreamDecoder, EqualsDecodeOnGoldensAndRandomIds) {
  for (const auto& r : ReadJsonLines("decode.jsonl")) {
    ExpectStreamEqualsDecode(r["ids"].get<std::vector<int32_t>>(), r["skip_special"].get<bool>());
  }
  std::mt19937 rng(7);
  std::uniform_int_distribution<int32_t> any_id(0, QwenTokenizer().vocab_size() - 1);
  for (int k = 0; k < 50; ++k) {
    std::vector<int32_t> ids(1 + k % 17);
    for (auto& id : ids) id = any_id(rng);
    ExpectStreamEqualsDecode(ids, k % 2 == 0);
  }
  ExpectStreamEqualsDecode(QwenTokenizer().Encode("絵文字👨‍👩‍👧‍👦と日本語、émoji 🇯🇵"), false);
}

}  // namespace
}  // namespace ritsu::tokenizer
