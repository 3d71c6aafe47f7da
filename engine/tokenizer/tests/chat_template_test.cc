// Chat template families other than Qwen3 (Qwen3 is checked against transformers in
// golden_test.cc). Expected strings were worked out by hand from the Jinja templates of
// Qwen2.5-*-Instruct and Qwen2-*-Instruct tokenizer_config.json (read via the search tool;
// they are not in shared/).
#include <gtest/gtest.h>

#include "engine/tokenizer/chat_template.h"

namespace ritsu::tokenizer {
namespace {

const std::vector<ChatMessage> kUserOnly = {{"user", "hi", std::nullopt}};
const std::vector<ChatMessage> kWithSystem = {{"system", "S", std::nullopt}, {"user", "hi", std::nullopt},
                                              {"assistant", "yo", std::nullopt}};

TEST(ChatTemplate, DetectsFamiliesFromTemplateText) {
  EXPECT_EQ(DetectChatTemplateStyle("... enable_thinking is defined ..."), ChatTemplateStyle::kQwen3);
  EXPECT_EQ(DetectChatTemplateStyle("{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a "
                                    "helpful assistant.<|im_end|>\\n' }}"),
            ChatTemplateStyle::kQwen25);
  EXPECT_EQ(DetectChatTemplateStyle("{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}"),
            ChatTemplateStyle::kQwen2);
  EXPECT_EQ(DetectChatTemplateStyle(""), ChatTemplateStyle::kChatml);
}

TEST(ChatTemplate, Qwen25AddsItsDefaultSystemPrompt) {
  EXPECT_EQ(RenderChatTemplate(ChatTemplateStyle::kQwen25, kUserOnly, true, true),
            "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
            "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
  // enable_thinking means nothing to Qwen2.5.
  EXPECT_EQ(RenderChatTemplate(ChatTemplateStyle::kQwen25, kWithSystem, false, false),
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\nyo<|im_end|>\n");
}

TEST(ChatTemplate, Qwen2AddsItsDefaultSystemPrompt) {
  EXPECT_EQ(RenderChatTemplate(ChatTemplateStyle::kQwen2, kUserOnly, true, false),
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n"
            "<|im_start|>assistant\n");
  EXPECT_EQ(RenderChatTemplate(ChatTemplateStyle::kQwen2, kWithSystem, false, true),
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\nyo<|im_end|>\n");
}

TEST(ChatTemplate, Qwen3EmptyThinkBlockOnlyWhenThinkingIsOff) {
  EXPECT_EQ(RenderChatTemplate(ChatTemplateStyle::kQwen3, kUserOnly, true, false),
            "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
  EXPECT_EQ(RenderChatTemplate(ChatTemplateStyle::kQwen3, kUserOnly, true, true),
            "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(RenderChatTemplate(ChatTemplateStyle::kQwen3, {}, true, true), "<|im_start|>assistant\n");
}

TEST(ChatTemplate, BareChatmlRendersEveryMessage) {
  EXPECT_EQ(RenderChatTemplate(ChatTemplateStyle::kChatml, kUserOnly, false, true), "<|im_start|>user\nhi<|im_end|>\n");
}

}  // namespace
}  // namespace ritsu::tokenizer
