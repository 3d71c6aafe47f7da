#include "worker/gpu_discovery.h"

#include <dlfcn.h>

#include <fmt/format.h>

namespace ritsu::worker {
namespace {

// The few NVML entry points used, declared by their documented C signatures (nvml.h is not
// needed at build time). nvmlReturn_t is an int enum, 0 = NVML_SUCCESS.
using nvmlDevice_t = void*;
struct NvmlMemory { unsigned long long total, free, used; };
constexpr unsigned kNvmlDeviceMigEnable = 1;

struct Nvml {
  void* lib = nullptr;
  int (*init)() = nullptr;
  int (*shutdown)() = nullptr;
  const char* (*error_string)(int) = nullptr;
  int (*get_count)(unsigned*) = nullptr;
  int (*get_handle)(unsigned, nvmlDevice_t*) = nullptr;
  int (*get_name)(nvmlDevice_t, char*, unsigned) = nullptr;
  int (*get_uuid)(nvmlDevice_t, char*, unsigned) = nullptr;
  int (*get_memory)(nvmlDevice_t, NvmlMemory*) = nullptr;
  int (*get_cc)(nvmlDevice_t, int*, int*) = nullptr;
  int (*get_mig_mode)(nvmlDevice_t, unsigned*, unsigned*) = nullptr;
  int (*get_max_mig)(nvmlDevice_t, unsigned*) = nullptr;
  int (*get_mig_handle)(nvmlDevice_t, unsigned, nvmlDevice_t*) = nullptr;

  template <typename F>
  bool Load(F& fn, const char* name) {
    fn = reinterpret_cast<F>(::dlsym(lib, name));
    return fn != nullptr;
  }
  std::string Err(int rc) const { return error_string ? error_string(rc) : fmt::format("NVML error {}", rc); }
};

struct DeviceFacts {
  std::string name, uuid;
  uint64_t mem = 0;
};

DeviceFacts Facts(const Nvml& n, nvmlDevice_t d) {
  DeviceFacts f;
  char buf[256] = {0};
  if (n.get_name(d, buf, sizeof buf) == 0) f.name = buf;
  buf[0] = 0;
  if (n.get_uuid(d, buf, sizeof buf) == 0) f.uuid = buf;
  NvmlMemory m{};
  if (n.get_memory(d, &m) == 0) f.mem = m.total;
  return f;
}

}  // namespace

DiscoveryResult DiscoverGpus() {
  DiscoveryResult r;
  Nvml n;
  n.lib = ::dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!n.lib) {
    r.note = "libnvidia-ml.so.1 not found (no NVIDIA driver on this machine): no GPU slots";
    return r;
  }
  bool ok = n.Load(n.init, "nvmlInit_v2") && n.Load(n.shutdown, "nvmlShutdown") &&
            n.Load(n.get_count, "nvmlDeviceGetCount_v2") &&
            n.Load(n.get_handle, "nvmlDeviceGetHandleByIndex_v2") &&
            n.Load(n.get_name, "nvmlDeviceGetName") && n.Load(n.get_uuid, "nvmlDeviceGetUUID") &&
            n.Load(n.get_memory, "nvmlDeviceGetMemoryInfo") &&
            n.Load(n.get_cc, "nvmlDeviceGetCudaComputeCapability");
  n.Load(n.error_string, "nvmlErrorString");
  // MIG entry points exist only in drivers >= 450; without them every GPU is a whole slot.
  bool has_mig = n.Load(n.get_mig_mode, "nvmlDeviceGetMigMode") &&
                 n.Load(n.get_max_mig, "nvmlDeviceGetMaxMigDeviceCount") &&
                 n.Load(n.get_mig_handle, "nvmlDeviceGetMigDeviceHandleByIndex");
  if (!ok) {
    r.note = "libnvidia-ml.so.1 lacks the NVML functions ritsu needs (driver too old?): no GPU slots";
    ::dlclose(n.lib);
    return r;
  }
  if (int rc = n.init(); rc != 0) {
    r.note = fmt::format("nvmlInit failed: {}: no GPU slots", n.Err(rc));
    ::dlclose(n.lib);
    return r;
  }
  unsigned count = 0;
  if (int rc = n.get_count(&count); rc != 0) r.note = fmt::format("nvmlDeviceGetCount failed: {}", n.Err(rc));
  for (unsigned i = 0; i < count; ++i) {
    nvmlDevice_t dev = nullptr;
    if (n.get_handle(i, &dev) != 0) continue;
    DeviceFacts f = Facts(n, dev);
    int major = 0, minor = 0;
    std::string cc = n.get_cc(dev, &major, &minor) == 0 ? fmt::format("{}.{}", major, minor) : "";
    unsigned mig_current = 0, mig_pending = 0;
    bool mig = has_mig && n.get_mig_mode(dev, &mig_current, &mig_pending) == 0 &&
               mig_current == kNvmlDeviceMigEnable;
    if (mig) {
      unsigned max_mig = 0;
      n.get_max_mig(dev, &max_mig);
      for (unsigned j = 0; j < max_mig; ++j) {
        nvmlDevice_t mdev = nullptr;
        if (n.get_mig_handle(dev, j, &mdev) != 0) continue;  // index not populated
        DeviceFacts mf = Facts(n, mdev);
        if (mf.uuid.empty()) continue;
        LocalSlot ls;
        ls.slot.id = mf.uuid;
        ls.slot.name = mf.name.empty() ? f.name + " MIG" : mf.name;
        ls.slot.mem_bytes = mf.mem;
        ls.slot.compute_capability = cc;
        ls.slot.is_gpu = true;
        ls.visible_device = mf.uuid;
        r.slots.push_back(std::move(ls));
      }
      continue;
    }
    LocalSlot ls;
    ls.slot.id = std::to_string(i);
    ls.slot.name = f.name;
    ls.slot.mem_bytes = f.mem;
    ls.slot.compute_capability = cc;
    ls.slot.is_gpu = true;
    ls.visible_device = f.uuid.empty() ? std::to_string(i) : f.uuid;
    r.slots.push_back(std::move(ls));
  }
  if (count == 0 && r.note.empty()) r.note = "NVML reports no GPUs";
  n.shutdown();
  ::dlclose(n.lib);
  return r;
}

}  // namespace ritsu::worker
