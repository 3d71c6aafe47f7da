// Picks the compute backend from a --device flag: "cpu", "cuda" or "cuda:N". Library
// ritsu_backend_factory: links the CUDA backend (engine/cuda, ritsu_engine_cuda) when the
// build has it, so every subcommand (generate, eval, train) gets backends the same way and a
// CPU-only build still links.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "engine/model/backend.h"

namespace ritsu::engine {

// A CPU-only build refuses "cuda" with a message saying so.
Result<std::unique_ptr<Backend>> MakeBackend(const std::string& device);

}  // namespace ritsu::engine
