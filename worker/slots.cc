#include "worker/slots.h"

#include <cctype>
#include <set>

#include <fmt/format.h>

#include "common/units.h"

namespace ritsu::worker {
namespace {

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (;;) {
    size_t p = s.find(sep, start);
    parts.push_back(s.substr(start, p == std::string_view::npos ? std::string_view::npos : p - start));
    if (p == std::string_view::npos) return parts;
    start = p + 1;
  }
}

bool IsDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

Status Bad(std::string_view entry, std::string_view why) {
  return Status::InvalidArgument(fmt::format(
      "--slots entry '{}': {} (expected cpuN[:mem=SIZE], gpuN[:mem=SIZE][:name=TEXT][:cc=X.Y] or "
      "mig:UUID[:mem=SIZE][:name=TEXT], comma-separated)", entry, why));
}

}  // namespace

Result<std::vector<LocalSlot>> ParseSlotSpec(std::string_view spec) {
  std::vector<LocalSlot> out;
  std::set<std::string> seen;
  if (spec.empty()) return Status::InvalidArgument("--slots is empty (e.g. --slots cpu0:mem=16G,cpu1:mem=16G)");
  for (std::string_view entry : Split(spec, ',')) {
    if (entry.empty()) return Bad(entry, "empty entry (two commas in a row?)");
    std::vector<std::string_view> parts = Split(entry, ':');
    LocalSlot ls;
    size_t first_opt = 1;
    if (parts[0] == "mig") {
      if (parts.size() < 2 || parts[1].empty()) return Bad(entry, "mig needs a UUID: mig:MIG-...");
      ls.slot.id = std::string(parts[1]);
      ls.slot.name = "MIG slice";
      ls.slot.is_gpu = true;
      ls.visible_device = ls.slot.id;
      first_opt = 2;
    } else if (parts[0].starts_with("cpu") && IsDigits(parts[0].substr(3))) {
      ls.slot.id = std::string(parts[0]);
      ls.slot.name = "cpu";
    } else if (parts[0].starts_with("gpu") && IsDigits(parts[0].substr(3))) {
      ls.slot.id = std::string(parts[0].substr(3));
      ls.slot.name = "gpu";
      ls.slot.is_gpu = true;
      ls.visible_device = ls.slot.id;
    } else {
      return Bad(entry, fmt::format("unknown slot '{}'", parts[0]));
    }
    for (size_t i = first_opt; i < parts.size(); ++i) {
      std::string_view opt = parts[i];
      size_t eq = opt.find('=');
      if (eq == std::string_view::npos) return Bad(entry, fmt::format("option '{}' is not key=value", opt));
      std::string_view key = opt.substr(0, eq), val = opt.substr(eq + 1);
      if (key == "mem") {
        auto bytes = ParseSize(val);
        if (!bytes.ok()) return Bad(entry, bytes.status().message());
        ls.slot.mem_bytes = *bytes;
      } else if (key == "name") {
        ls.slot.name = std::string(val);
      } else if (key == "cc" && ls.slot.is_gpu) {
        ls.slot.compute_capability = std::string(val);
      } else {
        return Bad(entry, fmt::format("unknown option '{}'", key));
      }
    }
    if (!seen.insert(ls.slot.id).second) return Bad(entry, fmt::format("slot id '{}' appears twice", ls.slot.id));
    out.push_back(std::move(ls));
  }
  return out;
}

std::string VisibleDevicesFor(const std::vector<LocalSlot>& all, const std::vector<std::string>& slot_ids) {
  std::string v;
  for (const auto& id : slot_ids) {
    for (const auto& ls : all) {
      if (ls.slot.id != id || !ls.slot.is_gpu) continue;
      if (!v.empty()) v += ',';
      v += ls.visible_device;
    }
  }
  return v;
}

std::string DescribeSlots(const std::vector<LocalSlot>& slots) {
  std::string s;
  for (const auto& ls : slots) {
    s += fmt::format("  slot {:<12} {:<4} {:<40} mem {:<7} cc {:<4} CUDA_VISIBLE_DEVICES={}\n", ls.slot.id,
                     ls.slot.is_gpu ? "gpu" : "cpu", ls.slot.name, FormatSize(ls.slot.mem_bytes),
                     ls.slot.compute_capability.empty() ? "-" : ls.slot.compute_capability,
                     ls.visible_device.empty() ? "\"\"" : ls.visible_device);
  }
  return s;
}

}  // namespace ritsu::worker
