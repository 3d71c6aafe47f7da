#include "engine/app/backend_factory.h"

namespace ritsu::engine {

Result<std::unique_ptr<Backend>> MakeBackend(const std::string& device) {
  if (device == "cpu") return MakeCpuBackend();
  if (device == "cuda" || device.rfind("cuda:", 0) == 0) {
#if defined(RITSU_ENGINE_WITH_CUDA)
    int ordinal = 0;
    if (device.size() > 5) {
      try {
        ordinal = std::stoi(device.substr(5));
      } catch (...) {
        return Status::InvalidArgument("--device " + device + ": expected cpu, cuda or cuda:N");
      }
    }
    return MakeCudaBackend(ordinal);
#else
    return Status::FailedPrecondition("--device " + device +
                                      ": this ritsu-engine was built without the CUDA backend; use --device cpu");
#endif
  }
  return Status::InvalidArgument("--device " + device + ": expected cpu, cuda or cuda:N");
}

}  // namespace ritsu::engine
