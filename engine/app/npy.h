// Writes a float32 array as a NumPy .npy file (format version 1.0: magic, little-endian
// header dict, data in C order) so Python tools can np.load what the engine computed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace ritsu::engine::app {

Status WriteNpyF32(const std::string& path, const std::vector<int64_t>& shape, const float* data);

}  // namespace ritsu::engine::app
