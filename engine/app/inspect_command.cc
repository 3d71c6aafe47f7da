// ritsu-engine inspect: what a model directory holds, as the engine reads it.
#include <cstdio>
#include <filesystem>

#include "engine/app/command_util.h"
#include "engine/app/subcommands.h"
#include "engine/model/config.h"
#include "engine/model/safetensors.h"

namespace ritsu::engine::app {

static const char kUsage[] = "usage: ritsu-engine inspect --model DIR [--no-tensors]\n";

static Status Run(const Flags& f) {
  RITSU_ASSIGN_OR_RETURN(std::string dir, f.Require("model"));
  RITSU_ASSIGN_OR_RETURN(ModelConfig c, LoadModelConfig(dir));
  std::printf("%s\n", c.ToJson().dump(2).c_str());
  RITSU_ASSIGN_OR_RETURN(auto ck, Checkpoint::OpenDir(dir));
  uint64_t bytes = 0, params = 0;
  for (const auto& [name, v] : ck->tensors()) {
    bytes += v.nbytes;
    params += static_cast<uint64_t>(v.numel());
    if (!f.Has("no-tensors")) {
      std::printf("%-60s %-5s %-18s %s\n", name.c_str(), DTypeName(v.dtype),
                  [&] {
                    std::string s = "[";
                    for (size_t i = 0; i < v.shape.size(); ++i) s += (i ? ", " : "") + std::to_string(v.shape[i]);
                    return s + "]";
                  }().c_str(),
                  std::filesystem::path(v.file).filename().c_str());
    }
  }
  std::printf("%zu tensors, %.3f B parameters, %.1f MiB\n", ck->tensors().size(), params / 1e9, bytes / 1048576.0);
  return Status::Ok();
}

int InspectMain(int argc, char** argv) {
  auto flags = Flags::Parse(argc, argv, {"model"}, {"no-tensors", "help"});
  if (!flags.ok()) {
    std::fputs(kUsage, stderr);
    return Fail("inspect", flags.status());
  }
  if (flags->Has("help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  Status st = Run(*flags);
  return st.ok() ? 0 : Fail("inspect", st);
}

}  // namespace ritsu::engine::app
