#include "scheduler/matcher.h"

#include <algorithm>

#include <fmt/format.h>

#include "common/units.h"

namespace ritsu::sched {
namespace {

bool HasTags(const MatchWorker& w, const Resources& r) {
  for (const auto& t : r.tags) {
    if (std::find(w.tags.begin(), w.tags.end(), t) == w.tags.end()) return false;
  }
  return true;
}

bool IsMigSlot(const Slot& s) { return s.id.rfind("MIG-", 0) == 0; }

bool SlotFits(const Slot& s, const Resources& r, bool need_gpu) {
  if (need_gpu && !s.is_gpu) return false;
  // A CUDA process sees at most one MIG instance, so a task that needs several GPUs (train
  // --gpus N over NCCL) cannot be given MIG slices: only whole GPUs.
  if (r.gpus > 1 && IsMigSlot(s)) return false;
  return s.mem_bytes >= r.gpu_mem_bytes;
}

// Slots of `w` that would hold `r`, taking only slots not in `busy` (pass an empty set to ask
// "could it ever fit"). Empty result = does not fit.
std::vector<std::string> PickSlots(const MatchWorker& w, const Resources& r,
                                   const std::set<std::string>& busy) {
  if (!r.host.empty() && r.host != w.name) return {};
  if (!HasTags(w, r)) return {};
  std::vector<std::string> out;
  if (r.gpus == 0) {
    // One slot of any kind; CPU slots first so GPUs stay free for GPU work.
    for (int pass = 0; pass < 2 && out.empty(); ++pass) {
      for (const auto& s : w.slots) {
        if (s.is_gpu == (pass == 1) && !busy.count(s.id) && SlotFits(s, r, false)) {
          out.push_back(s.id);
          break;
        }
      }
    }
    return out;
  }
  for (const auto& s : w.slots) {
    if (!busy.count(s.id) && SlotFits(s, r, true)) {
      out.push_back(s.id);
      if (out.size() == r.gpus) return out;
    }
  }
  return {};
}

size_t FittingSlots(const MatchWorker& w, const Resources& r) {
  if (!r.host.empty() && r.host != w.name) return 0;
  if (!HasTags(w, r)) return 0;
  size_t n = 0;
  for (const auto& s : w.slots) n += SlotFits(s, r, r.gpus > 0) ? 1 : 0;
  return n;
}

std::string Describe(const Resources& r) {
  std::string s = r.gpus == 0 ? "1 slot" : fmt::format("{} GPU slot(s)", r.gpus);
  if (r.gpu_mem_bytes) s += fmt::format(" with >= {} each", FormatSize(r.gpu_mem_bytes));
  if (!r.tags.empty()) s += fmt::format(", tags {}", fmt::join(r.tags, ","));
  if (!r.host.empty()) s += fmt::format(", on worker '{}'", r.host);
  return s;
}

}  // namespace

std::string NeverFitsReason(const Resources& r, const std::vector<MatchWorker>& workers) {
  bool any_accepting = false;
  size_t best = 0;
  std::string best_name;
  for (const auto& w : workers) {
    if (!w.accepting) continue;
    any_accepting = true;
    if (!PickSlots(w, r, {}).empty()) return "";
    size_t n = FittingSlots(w, r);
    if (n > best || best_name.empty()) { best = n; best_name = w.name; }
  }
  if (!any_accepting) {
    return workers.empty() ? "no worker is registered yet"
                           : "no worker is accepting work (all draining or lost)";
  }
  std::string why = fmt::format("no worker could ever hold it: needs {}", Describe(r));
  if (r.gpus > 1) why += " (whole GPUs: a process sees one MIG slice at most)";
  if (!r.host.empty() &&
      std::none_of(workers.begin(), workers.end(), [&](const MatchWorker& w) { return w.name == r.host; })) {
    return why + fmt::format("; no worker named '{}' is registered", r.host);
  }
  return why + fmt::format("; the best worker, {}, has {} fitting slot(s)", best_name, best);
}

MatchResult Match(const std::vector<MatchTask>& queue, const std::vector<MatchWorker>& workers,
                  const MatchLimits& limits) {
  MatchResult res;
  std::vector<std::set<std::string>> busy;
  size_t free_total = 0;
  for (const auto& w : workers) {
    busy.push_back(w.busy);
    if (w.accepting) {
      for (const auto& s : w.slots) free_total += w.busy.count(s.id) ? 0 : 1;
    }
  }
  std::map<SweepId, uint32_t> running = limits.sweep_running;
  std::map<size_t, TaskId> reserved_by;  // worker index -> task holding a reservation
  std::vector<TaskId> blocked_so_far;
  std::set<TaskId> credited;

  size_t examined = 0;
  for (const MatchTask& t : queue) {
    if (free_total == 0 || examined++ >= limits.max_examined) break;  // nothing more can be placed; later tasks keep their reasons
    if (t.sweep_id != 0) {
      auto cap = limits.sweep_cap.find(t.sweep_id);
      if (cap != limits.sweep_cap.end() && cap->second > 0 && running[t.sweep_id] >= cap->second) {
        res.reasons[t.id] = fmt::format("sweep {} is at its max_concurrent of {} running tasks",
                                        t.sweep_id, cap->second);
        continue;
      }
    }
    std::string never = NeverFitsReason(t.resources, workers);
    if (!never.empty()) {
      res.reasons[t.id] = never;
      continue;
    }
    bool placed = false;
    for (size_t wi = 0; wi < workers.size() && !placed; ++wi) {
      const MatchWorker& w = workers[wi];
      if (!w.accepting) continue;
      auto r = reserved_by.find(wi);
      if (r != reserved_by.end() && r->second != t.id) continue;
      std::vector<std::string> slots = PickSlots(w, t.resources, busy[wi]);
      if (slots.empty()) continue;
      for (const auto& s : slots) busy[wi].insert(s);
      free_total -= slots.size();
      if (t.sweep_id != 0) ++running[t.sweep_id];
      res.placements.push_back(Placement{t.id, w.name, std::move(slots)});
      placed = true;
    }
    if (placed) {
      // Everything blocked ahead of this task was passed over once more.
      for (TaskId b : blocked_so_far) {
        if (credited.insert(b).second) res.blocked.push_back(b);
      }
      continue;
    }
    std::string reason = fmt::format("waiting for a free {}", Describe(t.resources));
    if (t.passes_blocked >= limits.reserve_after) {
      // Reserve the worker that could hold it with the most fitting slots (ties: first listed).
      size_t best = workers.size(), best_n = 0;
      for (size_t wi = 0; wi < workers.size(); ++wi) {
        if (!workers[wi].accepting || reserved_by.count(wi)) continue;
        if (PickSlots(workers[wi], t.resources, {}).empty()) continue;
        size_t n = FittingSlots(workers[wi], t.resources);
        if (best == workers.size() || n > best_n) { best = wi; best_n = n; }
      }
      if (best != workers.size()) {
        reserved_by[best] = t.id;
        res.reservations[t.id] = workers[best].name;
        reason += fmt::format("; holds a reservation on worker {} (no smaller task may start there)",
                              workers[best].name);
      }
    }
    res.reasons[t.id] = reason;
    blocked_so_far.push_back(t.id);
  }
  return res;
}

}  // namespace ritsu::sched
