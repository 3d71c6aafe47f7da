#!/usr/bin/env bash
# On the GPU machine, from the repo root: builds bitsandbytes from the source carried in
# .carry/bitsandbytes-src (the machine has no network), then runs hf_baselines.py.
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
src=.carry/bitsandbytes-src
if [[ -d $src ]]; then
  t0=$(date +%s)
  (cd $src && cmake -B build -DCOMPUTE_BACKEND=cuda -DCOMPUTE_CAPABILITY=90 >/dev/null && cmake --build build -j16 >"$OUT/bnb_build.log" 2>&1) \
    && echo "bitsandbytes built in $(( $(date +%s) - t0 )) s" || { echo "bitsandbytes build failed"; tail -20 "$OUT/bnb_build.log"; }
  export PYTHONPATH=$PWD/$src${PYTHONPATH:+:$PYTHONPATH}
fi
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,driver_version --format=csv | tee "$OUT/gpu.txt"
PYTHONUNBUFFERED=1 python3 bench/hf/hf_baselines.py 2>&1 | tee "$OUT/hf_baselines.log"
