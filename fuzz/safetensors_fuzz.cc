// libFuzzer target: a .safetensors file (header JSON, shapes, offsets) parsed from memory with
// the same validation as Checkpoint::OpenFile, then every float tensor read in full (an
// accepted tensor must lie inside the buffer).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/model/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto ck = ritsu::engine::Checkpoint::OpenBuffer("fuzz.safetensors",
                                                   std::string_view(reinterpret_cast<const char*>(data), size));
  if (!ck.ok()) return 0;
  for (const auto& [name, view] : (*ck)->tensors()) {
    if (view.nbytes > size) __builtin_trap();  // validation let a tensor point outside the file
    (void)(*ck)->ReadFloat(name);
  }
  return 0;
}
