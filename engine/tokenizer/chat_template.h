// Qwen chat templates rendered in C++ (no Jinja engine). The template family is recognised
// from the `chat_template` text of tokenizer_config.json; the plain cases (system / user /
// assistant / tool messages, no tool definitions, no tool calls) are rendered exactly as the
// Jinja templates do. docs/tokenizer.md lists what is covered.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace ritsu::tokenizer {

struct ChatMessage {
  std::string role;     // "system", "user", "assistant" or "tool"
  std::string content;
  // Qwen3 assistant turns: the thinking text, when the caller keeps it apart from content.
  std::optional<std::string> reasoning_content;
};

enum class ChatTemplateStyle {
  // Qwen3: no default system prompt; assistant turns after the last user query carry their
  // <think> block; enable_thinking=false appends an empty think block to the generation prompt.
  kQwen3,
  // Qwen2.5: "You are Qwen, created by Alibaba Cloud. You are a helpful assistant." as the
  // default system prompt when the first message is not a system message.
  kQwen25,
  // Qwen1.5 / Qwen2: "You are a helpful assistant." as the default system prompt.
  kQwen2,
  // Any other or missing template: bare ChatML, every message as
  // <|im_start|>role\ncontent<|im_end|>\n, no default system prompt.
  kChatml,
};

const char* ChatTemplateStyleName(ChatTemplateStyle style);

// Recognises the family from the Jinja text (empty text -> kChatml).
ChatTemplateStyle DetectChatTemplateStyle(const std::string& jinja_template);

std::string RenderChatTemplate(ChatTemplateStyle style, const std::vector<ChatMessage>& messages,
                               bool add_generation_prompt, bool enable_thinking);

}  // namespace ritsu::tokenizer
