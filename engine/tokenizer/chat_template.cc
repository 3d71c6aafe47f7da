#include "engine/tokenizer/chat_template.h"

#include <string_view>

namespace ritsu::tokenizer {
namespace {

constexpr std::string_view kQwen25DefaultSystem =
    "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";
constexpr std::string_view kQwen2DefaultSystem = "You are a helpful assistant.";

// Python's str.lstrip / rstrip / strip with one character.
std::string_view LStrip(std::string_view s, char c) {
  while (!s.empty() && s.front() == c) s.remove_prefix(1);
  return s;
}
std::string_view RStrip(std::string_view s, char c) {
  while (!s.empty() && s.back() == c) s.remove_suffix(1);
  return s;
}
// Python's s.split(sep)[-1] and s.split(sep)[0].
std::string_view AfterLast(std::string_view s, std::string_view sep) {
  const size_t p = s.rfind(sep);
  return p == std::string_view::npos ? s : s.substr(p + sep.size());
}
std::string_view BeforeFirst(std::string_view s, std::string_view sep) {
  const size_t p = s.find(sep);
  return p == std::string_view::npos ? s : s.substr(0, p);
}

void AppendTurn(std::string* out, std::string_view role, std::string_view content) {
  out->append("<|im_start|>").append(role).append("\n").append(content).append("<|im_end|>\n");
}

// Consecutive tool messages share one user turn of <tool_response> blocks (Qwen2.5 and Qwen3).
void AppendToolResponse(std::string* out, const std::vector<ChatMessage>& m, size_t i) {
  if (i == 0 || m[i - 1].role != "tool") out->append("<|im_start|>user");
  out->append("\n<tool_response>\n").append(m[i].content).append("\n</tool_response>");
  if (i + 1 == m.size() || m[i + 1].role != "tool") out->append("<|im_end|>\n");
}

bool IsToolResponse(std::string_view content) {
  return content.starts_with("<tool_response>") && content.ends_with("</tool_response>");
}

std::string RenderQwen3(const std::vector<ChatMessage>& m, bool add_generation_prompt,
                        bool enable_thinking) {
  std::string out;
  if (!m.empty() && m[0].role == "system") AppendTurn(&out, "system", m[0].content);
  // The last real user query: assistant turns after it keep their reasoning.
  size_t last_query_index = m.empty() ? 0 : m.size() - 1;
  for (size_t k = m.size(); k-- > 0;) {
    if (m[k].role == "user" && !IsToolResponse(m[k].content)) {
      last_query_index = k;
      break;
    }
  }
  for (size_t i = 0; i < m.size(); ++i) {
    const ChatMessage& msg = m[i];
    if (msg.role == "user" || (msg.role == "system" && i != 0)) {
      AppendTurn(&out, msg.role, msg.content);
    } else if (msg.role == "assistant") {
      std::string_view content = msg.content;
      std::string_view reasoning;
      if (msg.reasoning_content) {
        reasoning = *msg.reasoning_content;
      } else if (content.find("</think>") != std::string_view::npos) {
        reasoning = LStrip(AfterLast(RStrip(BeforeFirst(content, "</think>"), '\n'), "<think>"), '\n');
        content = LStrip(AfterLast(content, "</think>"), '\n');
      }
      out.append("<|im_start|>assistant\n");
      const bool last = i + 1 == m.size();
      if (i > last_query_index && (last || !reasoning.empty())) {
        out.append("<think>\n").append(LStrip(RStrip(reasoning, '\n'), '\n'));
        out.append("\n</think>\n\n").append(LStrip(content, '\n'));
      } else {
        out.append(content);
      }
      out.append("<|im_end|>\n");
    } else if (msg.role == "tool") {
      AppendToolResponse(&out, m, i);
    }
    // Other roles are not rendered by the template.
  }
  if (add_generation_prompt) {
    out.append("<|im_start|>assistant\n");
    if (!enable_thinking) out.append("<think>\n\n</think>\n\n");
  }
  return out;
}

std::string RenderQwen25(const std::vector<ChatMessage>& m, bool add_generation_prompt) {
  std::string out;
  AppendTurn(&out, "system",
             !m.empty() && m[0].role == "system" ? std::string_view(m[0].content) : kQwen25DefaultSystem);
  for (size_t i = 0; i < m.size(); ++i) {
    const ChatMessage& msg = m[i];
    if (msg.role == "user" || (msg.role == "system" && i != 0) || msg.role == "assistant") {
      AppendTurn(&out, msg.role, msg.content);
    } else if (msg.role == "tool") {
      AppendToolResponse(&out, m, i);
    }
  }
  if (add_generation_prompt) out.append("<|im_start|>assistant\n");
  return out;
}

// Qwen1.5/Qwen2 (with_default_system = true) and bare ChatML: every message rendered as is.
std::string RenderChatml(const std::vector<ChatMessage>& m, bool add_generation_prompt,
                         bool with_default_system) {
  std::string out;
  if (with_default_system && !m.empty() && m[0].role != "system") {
    AppendTurn(&out, "system", kQwen2DefaultSystem);
  }
  for (const ChatMessage& msg : m) AppendTurn(&out, msg.role, msg.content);
  if (add_generation_prompt) out.append("<|im_start|>assistant\n");
  return out;
}

}  // namespace

const char* ChatTemplateStyleName(ChatTemplateStyle style) {
  switch (style) {
    case ChatTemplateStyle::kQwen3: return "qwen3";
    case ChatTemplateStyle::kQwen25: return "qwen2.5";
    case ChatTemplateStyle::kQwen2: return "qwen2";
    case ChatTemplateStyle::kChatml: return "chatml";
  }
  return "?";
}

ChatTemplateStyle DetectChatTemplateStyle(const std::string& t) {
  if (t.find("enable_thinking") != std::string::npos || t.find("reasoning_content") != std::string::npos) {
    return ChatTemplateStyle::kQwen3;
  }
  if (t.find(kQwen25DefaultSystem) != std::string::npos) return ChatTemplateStyle::kQwen25;
  if (t.find("<|im_start|>") != std::string::npos && t.find(kQwen2DefaultSystem) != std::string::npos) {
    return ChatTemplateStyle::kQwen2;
  }
  return ChatTemplateStyle::kChatml;
}

std::string RenderChatTemplate(ChatTemplateStyle style, const std::vector<ChatMessage>& messages,
                               bool add_generation_prompt, bool enable_thinking) {
  switch (style) {
    case ChatTemplateStyle::kQwen3: return RenderQwen3(messages, add_generation_prompt, enable_thinking);
    case ChatTemplateStyle::kQwen25: return RenderQwen25(messages, add_generation_prompt);
    case ChatTemplateStyle::kQwen2: return RenderChatml(messages, add_generation_prompt, true);
    case ChatTemplateStyle::kChatml: return RenderChatml(messages, add_generation_prompt, false);
  }
  return {};
}

}  // namespace ritsu::tokenizer
