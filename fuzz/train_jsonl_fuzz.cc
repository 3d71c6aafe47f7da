// libFuzzer target: training JSONL (one sample per line) read from a stream with bad lines
// skipped, as `ritsu-engine train --on-bad-line skip` reads --train-file. A small line limit
// makes the too-long-line path reachable with small inputs.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "engine/train/train_jsonl.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  ritsu::train::ReadReport report;
  (void)ritsu::train::ReadTrainJsonl(in, "fuzz.jsonl", ritsu::train::BadLinePolicy::kSkip, &report,
                                     /*max_line_bytes=*/1024);
  return 0;
}
