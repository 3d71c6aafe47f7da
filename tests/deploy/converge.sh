#!/usr/bin/env bash
# Deployment test: site.yml against localhost (connection local) into a temporary prefix, with
# the supervisor instead of systemd and the binaries of BUILD_DIR (no rebuild), CURVE on:
#   1. site.yml brings up ritsud and one worker (slot cpu0); keys are generated, the allowlist
#      holds the host keys, secret keys are 0600;
#   2. check.yml finds the worker alive;
#   3. a job submitted with the generated operator key runs to SUCCEEDED and its output is kept;
#      an unlisted key gets no answer;
#   4. a second site.yml run reports changed=0 (idempotence);
#   5. rolling-upgrade.yml drains, restarts and undrains the worker while a job runs on it: the
#      job still succeeds on its first attempt and the worker accepts work afterwards;
#   6. site.yml with a changed worker config restarts the worker, which comes back with it.
# Every process started here is stopped on exit.
#   converge.sh BUILD_DIR
source "$(dirname "$0")/lib.sh"
need_ansible
build=${1:?usage: converge.sh BUILD_DIR}
for bin in scheduler/ritsud worker/ritsu-worker cli/ritsu; do
  [[ -x $build/$bin ]] || fail "$build/$bin is not built (build ritsud, ritsu-worker and ritsu first)"
done

port=$(free_port)
write_inventory "$scratch/hosts.yml" "[{name: cpu0, kind: cpu, mem: 1G}]" \
  "    ritsu_build_source: prebuilt
    ritsu_prebuilt_dir: $build
    ritsu_scheduler_port: $port"
cleanup_hooks+=("for s in worker-cpu0 ritsud; do '$scratch/prefix/bin/ritsu-supervise' stop '$scratch/run' \$s >/dev/null 2>&1; done")

show_logs() { tail -n 30 "$scratch"/log/*.out 2>/dev/null || true; }

echo "== site.yml (first run)"
ansible-playbook -i "$scratch/hosts.yml" "$root/ansible/site.yml" >"$scratch/site1.out" 2>&1 ||
  { cat "$scratch/site1.out"; show_logs; fail "site.yml failed"; }
tail -n 4 "$scratch/site1.out"

[[ $(stat -c %a "$scratch/etc/keys/ritsud.key") == 600 ]] || fail "ritsud.key is not mode 0600"
grep -q ' worker localhost-worker$' "$scratch/etc/allowlist" || { cat "$scratch/etc/allowlist"; fail "allowlist lacks the worker key"; }
grep -q ' submit localhost-ops$' "$scratch/etc/allowlist" || fail "allowlist lacks the operator key"
grep -q 'curve-secret-key' "$scratch/etc/ritsud.toml" || fail "ritsud.toml is not configured for CURVE"

echo "== check.yml"
ansible-playbook -i "$scratch/hosts.yml" "$root/ansible/check.yml" >"$scratch/check.out" 2>&1 ||
  { cat "$scratch/check.out"; show_logs; fail "check.yml failed"; }
grep -q "all 1 expected workers are alive" "$scratch/check.out" || { cat "$scratch/check.out"; fail "check.yml did not confirm the worker"; }

echo "== a job through the deployed cluster"
set -a
source "$scratch/etc/cli.env"
set +a
ritsu=$scratch/prefix/bin/ritsu
id=$("$ritsu" submit exec -- echo converge-ok) || { show_logs; fail "submit failed"; }
"$ritsu" wait --timeout 30s "$id" || { "$ritsu" show "$id"; show_logs; fail "job $id did not succeed"; }
"$ritsu" logs "$id" | grep -q converge-ok || fail "job $id output is missing"
# A key that is not in the allowlist gets no answer at all.
"$ritsu" keygen --dir "$scratch/stranger" --name stranger >/dev/null
if RITSU_KEY=$scratch/stranger/stranger.key "$ritsu" --reply-timeout 1s status >/dev/null 2>&1; then
  fail "a key outside the allowlist was answered"
fi

echo "== site.yml (second run must change nothing)"
ansible-playbook -i "$scratch/hosts.yml" "$root/ansible/site.yml" >"$scratch/site2.out" 2>&1 ||
  { cat "$scratch/site2.out"; fail "second site.yml run failed"; }
recap=$(grep -E '^localhost +:' "$scratch/site2.out" || true)
echo "$recap"
[[ $recap == *" changed=0 "* ]] || { grep -B3 -E '^changed:' "$scratch/site2.out" | head -40; fail "second run was not idempotent: $recap"; }

echo "== rolling-upgrade.yml with a job running"
# Long enough to still run when the worker's turn comes (after ritsud was restarted).
long=$("$ritsu" submit exec -- sleep 12) || fail "submit failed"
ansible-playbook -i "$scratch/hosts.yml" "$root/ansible/rolling-upgrade.yml" \
  -e ritsu_drain_timeout_s=60 -e ritsu_drain_poll_s=1 \
  >"$scratch/upgrade.out" 2>&1 || { cat "$scratch/upgrade.out"; show_logs; fail "rolling-upgrade.yml failed"; }
"$ritsu" wait --timeout 30s "$long" || { "$ritsu" show "$long"; fail "the job running during the upgrade did not succeed"; }
# Not killed and retried: the drain waited for it, so it succeeded on its first attempt.
attempt=$("$ritsu" show --json "$long" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["attempt"])')
[[ $attempt == 1 ]] || { "$ritsu" show "$long"; fail "the job running during the upgrade was restarted (attempt $attempt)"; }
if grep -q "RETRYING: \[localhost\]: Wait until its running tasks have finished" "$scratch/upgrade.out"; then
  echo "(the upgrade waited for the drained worker's job)"
fi
after=$("$ritsu" submit exec -- echo after-upgrade) || fail "submit after the upgrade failed"
"$ritsu" wait --timeout 30s "$after" || { "$ritsu" workers; show_logs; fail "the upgraded worker does not take work"; }

echo "== site.yml with a changed worker config restarts the worker"
ansible-playbook -i "$scratch/hosts.yml" "$root/ansible/site.yml" -e '{"ritsu_worker_tags": ["converge"]}' \
  >"$scratch/site3.out" 2>&1 || { cat "$scratch/site3.out"; show_logs; fail "site.yml with new tags failed"; }
tagged=""
for _ in $(seq 20); do
  tagged=$("$ritsu" workers --json | /usr/bin/python3 -c 'import json,sys; print(" ".join(w["name"] for w in json.load(sys.stdin)["workers"] if "converge" in w["tags"] and w["state"] == "alive"))')
  [[ -n $tagged ]] && break
  sleep 0.5
done
[[ $tagged == localhost-cpu0 ]] || { "$ritsu" workers; fail "the worker was not restarted with its new config"; }

echo "PASS: converge, check, job, idempotence, rolling upgrade, restart on config change"
