# Sourced by the GPU scripts. steady_rate LOG: the trainer's tokens/s between its step-2 progress
# line and its last one. The trainer prints the cumulative rate r_k at step k, so k steps took
# k * tps / r_k seconds (tps tokens per step): the rate in between, (nl - 2) / (nl/rl - 2/r2),
# needs no tps. Excludes the first steps' cuBLAS and allocator warm-up.
steady_rate() {
  awk '/^step [0-9]+\/[0-9]+ /{split($2, s, "/"); n = s[1]; for (i = 1; i <= NF; ++i) if ($i == "tokens/s") r = $(i + 1);
       if (n == 2) {n2 = n; r2 = r} nl = n; rl = r}
       END {if (nl > n2 && r2 > 0 && rl > 0) printf "%.1f", (nl - n2) / (nl / rl - n2 / r2); else print "n/a"}' "$1"
}
