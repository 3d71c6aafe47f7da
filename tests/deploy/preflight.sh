#!/usr/bin/env bash
# Deployment test: bad inventories stop site.yml with a clear message before any service starts.
#   preflight.sh BUILD_DIR
#   1. a worker slot without its kind           -> fails in preflight, names the host and slot
#   2. ritsu_build_source=prebuilt, no dir      -> fails naming the missing variable
#   3. a MIG UUID this host does not have       -> fails after `ritsu-worker --check` (needs the
#      worker binary from BUILD_DIR), naming the UUID
#   4. a mistyped key in ritsu_extra_allowlist  -> the allowlist edit is refused (validated with
#      `ritsu keys list` before it replaces the file), naming the problem
# Each case must exit non-zero, print its message, and leave no pid file in the run dir.
source "$(dirname "$0")/lib.sh"
need_ansible
build=${1:?usage: preflight.sh BUILD_DIR}

expect_failure() {  # NAME EXPECTED_TEXT INVENTORY
  local name=$1 expected=$2 inventory=$3 out=$scratch/$1.out
  if ansible-playbook -i "$inventory" "$root/ansible/site.yml" >"$out" 2>&1; then
    cat "$out"
    fail "$name: site.yml succeeded on a bad inventory"
  fi
  grep -qF -- "$expected" "$out" || { cat "$out"; fail "$name: the output does not say '$expected'"; }
  if compgen -G "$scratch/run/*.pid" >/dev/null; then
    fail "$name: a service was started: $(ls "$scratch"/run)"
  fi
  echo "ok: $name: $expected"
}

write_inventory "$scratch/no-kind.yml" "[{name: cpu0, mem: 1G}]" \
  "    ritsu_build_source: prebuilt
    ritsu_prebuilt_dir: $build"
expect_failure slot-without-kind "slot {'name': 'cpu0', 'mem': '1G'} is incomplete" "$scratch/no-kind.yml"

write_inventory "$scratch/no-prebuilt-dir.yml" "[{name: cpu0, kind: cpu, mem: 1G}]" \
  "    ritsu_build_source: prebuilt"
expect_failure missing-variable "needs 'ritsu_prebuilt_dir' on host localhost" "$scratch/no-prebuilt-dir.yml"

if [[ -x $build/worker/ritsu-worker ]]; then
  write_inventory "$scratch/bad-mig.yml" \
    "[{name: mig0, kind: mig, uuid: MIG-00000000-1111-2222-3333-444444444444, mem: 20G}]" \
    "    ritsu_build_source: prebuilt
    ritsu_prebuilt_dir: $build
    ritsu_required_binaries: [ritsu-worker]
    ritsu_secure: false"
  expect_failure unknown-mig-uuid "MIG slice MIG-00000000-1111-2222-3333-444444444444 (slot mig0) is not on this host" \
    "$scratch/bad-mig.yml"
else
  echo "note: $build/worker/ritsu-worker is not built; the MIG UUID case was not run"
fi
if [[ -x $build/scheduler/ritsud && -x $build/worker/ritsu-worker && -x $build/cli/ritsu ]]; then
  write_inventory "$scratch/bad-key.yml" "[{name: cpu0, kind: cpu, mem: 1G}]" \
    "    ritsu_build_source: prebuilt
    ritsu_prebuilt_dir: $build
    ritsu_extra_allowlist: [{key: '$(printf '~%.0s' $(seq 40))', role: submit, name: typo}]"
  expect_failure mistyped-extra-key "is not in the Z85 alphabet" "$scratch/bad-key.yml"
else
  echo "note: ritsud / ritsu-worker / ritsu are not all built; the mistyped key case was not run"
fi
echo "PASS: bad inventories are refused before services start"
