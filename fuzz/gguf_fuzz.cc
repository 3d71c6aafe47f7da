// libFuzzer target: the GGUF reader (header, metadata of every value type, tensor table,
// offsets) on a buffer, then every accepted tensor dequantized and every value rendered.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/merge/gguf_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto g = ritsu::merge::GgufFile::FromBuffer("fuzz.gguf", std::string_view(reinterpret_cast<const char*>(data), size));
  if (!g.ok()) return 0;
  for (const auto& [key, value] : g->metadata()) (void)value.ToString();
  for (const auto& t : g->tensors()) {
    if (g->data_offset() + t.offset + t.bytes > g->file_size()) __builtin_trap();
    (void)g->Dequantize(t);
  }
  return 0;
}
