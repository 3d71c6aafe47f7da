// libFuzzer target: a sweep file (TOML) parsed and expanded into trials, then flattened into
// the submit batch ritsud would store.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "scheduler/sweep.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto s = ritsu::sched::ExpandSweep(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.toml");
  if (!s.ok()) return 0;
  std::vector<std::vector<uint32_t>> index_of;
  (void)ritsu::sched::FlattenSweep(*s, &index_of);
  return 0;
}
