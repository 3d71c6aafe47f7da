#include "engine/app/command_util.h"

#include <sys/resource.h>

#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

#include "engine/app/backend_factory.h"

namespace ritsu::engine::app {

int Fail(const char* command, const Status& status) {
  std::fprintf(stderr, "ritsu-engine %s: %s\n", command, status.message().c_str());
  switch (status.code()) {
    case Status::Code::kInvalidArgument:
    case Status::Code::kNotFound:
    case Status::Code::kFailedPrecondition:
    case Status::Code::kCorruption:
      return 2;
    default:
      return 1;
  }
}

Result<std::vector<PromptInput>> ReadPromptsFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("--prompts " + path + ": cannot open");
  std::vector<PromptInput> out;
  std::string line;
  int64_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(lineno);
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded()) return Status::InvalidArgument(where + ": not valid JSON");
    PromptInput p;
    const nlohmann::json* ids = nullptr;
    if (j.is_string()) p.text = j.get<std::string>();
    else if (j.is_array()) ids = &j;
    else if (j.is_object() && j.contains("prompt") && j["prompt"].is_string()) p.text = j["prompt"].get<std::string>();
    else if (j.is_object() && j.contains("ids") && j["ids"].is_array()) ids = &j["ids"];
    else return Status::InvalidArgument(where + ": expected a JSON string, an array of token ids, or {\"prompt\": ...} / {\"ids\": [...]}");
    if (ids) {
      for (const auto& x : *ids) {
        if (!x.is_number_integer()) return Status::InvalidArgument(where + ": token ids must be integers");
        p.ids.push_back(x.get<int32_t>());
      }
    }
    out.push_back(std::move(p));
  }
  if (out.empty()) return Status::InvalidArgument("--prompts " + path + ": no prompts in the file");
  return out;
}

Result<std::vector<std::vector<int32_t>>> EncodePrompts(const std::vector<PromptInput>& prompts,
                                                        const tokenizer::Tokenizer* tok, bool chat,
                                                        const std::string& system_prompt) {
  std::vector<std::vector<int32_t>> out;
  for (size_t i = 0; i < prompts.size(); ++i) {
    if (!prompts[i].text) {
      out.push_back(prompts[i].ids);
      continue;
    }
    if (!tok) return Status::FailedPrecondition("prompt " + std::to_string(i) + " is text but the model directory has no tokenizer.json");
    std::string text = *prompts[i].text;
    if (chat) {
      std::vector<tokenizer::ChatMessage> messages;
      if (!system_prompt.empty()) messages.push_back({"system", system_prompt, std::nullopt});
      messages.push_back({"user", text, std::nullopt});
      text = tok->ApplyChatTemplate(messages, /*add_generation_prompt=*/true, /*enable_thinking=*/false);
    }
    out.push_back(tok->Encode(text));
  }
  return out;
}

Result<LoadedModel> LoadModelFromFlags(const Flags& flags) {
  LoadedModel lm;
  RITSU_ASSIGN_OR_RETURN(std::string dir, flags.Require("model"));
  RITSU_ASSIGN_OR_RETURN(lm.backend, MakeBackend(flags.Get("device", "cpu")));
  ModelLoadOptions opts;
  opts.load_in_4bit = flags.Has("load-in-4bit") || flags.Has("hf-load-in-4bit");
  opts.lora_dir = flags.Get("lora");
  RITSU_ASSIGN_OR_RETURN(lm.model, Model::Load(dir, *lm.backend, opts));
  return lm;
}

std::string MemoryReport(const Backend& backend) {
  struct rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  char buf[160];
  std::snprintf(buf, sizeof buf, "peak memory: %s %.1f MiB (backend allocations), process max RSS %.1f MiB",
                backend.kind() == DeviceKind::kCuda ? "GPU" : "host", backend.peak_memory_bytes() / 1048576.0,
                ru.ru_maxrss / 1024.0);
  return buf;
}

}  // namespace ritsu::engine::app
