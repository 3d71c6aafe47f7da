#!/usr/bin/env python3
"""Compares two trained LoRA adapters (and, with --states, their trainer_state.json):
   compare_adapters.py DIR_A DIR_B TOL LABEL [--states]
Checked: every tensor's ||a - b|| / ||a|| <= TOL. Printed beside it: max |a - b| / max |a| (Adam's
update is ~lr whatever the gradient's size, so one entry whose gradient is at rounding level can
step either way and dominate a max-based figure; the norm says how far the adapters moved apart).
--states: the losses must agree within 1e-4 relative and steps/epochs/learning rates exactly.
Exit 0 when every check holds. Standard library only (runs on any GPU machine)."""
import json
import struct
import sys


def load(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    header = json.loads(b[8:8 + n])
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        s, e = v["data_offsets"]
        raw = b[8 + n + s:8 + n + e]
        out[k] = struct.unpack("<%df" % (len(raw) // 4), raw)
    return out


def main():
    a_dir, b_dir, tol, label = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
    a = load(a_dir + "/adapter_model.safetensors")
    b = load(b_dir + "/adapter_model.safetensors")
    ok = a.keys() == b.keys() and len(a) > 0
    norm = lambda v: sum(x * x for x in v) ** 0.5
    worst = max(norm([x - y for x, y in zip(a[k], b[k])]) / max(norm(a[k]), 1e-30) for k in a) if ok else float("inf")
    worst_max = (max(max(abs(x - y) for x, y in zip(a[k], b[k])) / max(max(abs(x) for x in a[k]), 1e-30) for k in a)
                 if ok else float("inf"))
    msg = "  %s: adapter worst per-tensor relative difference %.2e (tol %g; of the tensor max: %.2e)" % (
        label, worst, tol, worst_max)
    ok = ok and worst <= tol
    if "--states" in sys.argv[5:]:
        h1 = json.load(open(a_dir + "/trainer_state.json"))["log_history"]
        h2 = json.load(open(b_dir + "/trainer_state.json"))["log_history"]
        same = len(h1) == len(h2) and all(x["step"] == y["step"] and x["epoch"] == y["epoch"] and
                                          x["learning_rate"] == y["learning_rate"] for x, y in zip(h1, h2))
        loss_rel = max(abs(x["loss"] - y["loss"]) / max(abs(x["loss"]), 1e-30) for x, y in zip(h1, h2)) if h1 else float("inf")
        msg += ", losses %.2e relative (tol 1e-4), steps/epochs/lr identical: %s" % (loss_rel, same)
        ok = ok and same and loss_rel <= 1e-4
    print(msg)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
