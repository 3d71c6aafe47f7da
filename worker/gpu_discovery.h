// GPU discovery without a build-time CUDA dependency: libnvidia-ml.so.1 (installed with the
// NVIDIA driver) is opened at run time with dlopen. Each GPU becomes a slot with its index as
// id and its UUID as CUDA_VISIBLE_DEVICES value (UUIDs do not depend on CUDA_DEVICE_ORDER);
// a GPU in MIG mode becomes one slot per MIG device instead (id and CUDA_VISIBLE_DEVICES =
// the MIG UUID), which is how heart01's A100 is split into 20 GB slices.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "worker/slots.h"

namespace ritsu::worker {

struct DiscoveryResult {
  std::vector<LocalSlot> slots;
  // Why nothing was found, when nothing was ("libnvidia-ml.so.1 not found: no NVIDIA driver").
  std::string note;
};

// Never fails: a machine without a driver simply has no GPU slots (note says why).
DiscoveryResult DiscoverGpus();

}  // namespace ritsu::worker
