// libFuzzer target: adapter_config.json (PEFT LoRA config, including its target_modules regex)
// checked against a tiny base, and the same text as an HF config.json.
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/model/config.h"
#include "engine/model/lora_adapter.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  static const auto base = *ritsu::engine::PresetConfig(ritsu::engine::Arch::kQwen3, "tiny");
  auto lc = ritsu::engine::ParseLoraConfig("adapter_config.json", text);
  if (lc.ok()) (void)ritsu::engine::CheckLoraShapes(base, *lc, "adapter_config.json");
  (void)ritsu::engine::ParseModelConfig(text, "config.json");
  return 0;
}
