// What a worker offers the scheduler: its slots, either given explicitly with --slots or found
// by GPU discovery (worker/gpu_discovery.h), plus how each slot is handed to a child
// (the CUDA_VISIBLE_DEVICES value).
//
// --slots grammar: comma-separated entries, each one of
//   cpuN[:mem=SIZE]                      CPU-only slot "cpuN" (tests, CPU-only tasks)
//   gpuN[:mem=SIZE][:name=TEXT][:cc=X.Y] GPU slot "N" given by hand (CUDA_VISIBLE_DEVICES=N)
//   mig:UUID[:mem=SIZE][:name=TEXT]      a MIG slice by UUID (CUDA_VISIBLE_DEVICES=UUID)
// e.g. "cpu0:mem=16G,cpu1:mem=16G" or "mig:MIG-5c1f...:mem=20G,mig:MIG-9ab2...:mem=20G".
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/task.h"

namespace ritsu::worker {

struct LocalSlot {
  Slot slot;                  // what is advertised
  std::string visible_device; // CUDA_VISIBLE_DEVICES value for this slot ("" for CPU slots)
};

Result<std::vector<LocalSlot>> ParseSlotSpec(std::string_view spec);

// CUDA_VISIBLE_DEVICES for a task given the slots it was assigned: the GPU slots' values
// joined by ',', or "" (no GPU visible) when it got only CPU slots.
std::string VisibleDevicesFor(const std::vector<LocalSlot>& all, const std::vector<std::string>& slot_ids);

// One line per slot, for --check and the worker's startup log.
std::string DescribeSlots(const std::vector<LocalSlot>& slots);

}  // namespace ritsu::worker
