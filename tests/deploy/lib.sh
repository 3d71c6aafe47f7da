# Shared by the deployment tests: a scratch directory, Ansible pointed at the repo's ansible/
# folder with all its state inside the scratch directory, and a local inventory writer.
# Source it; it sets $root, $scratch, and cleans up on exit (after the test's own cleanup).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
scratch=$(mktemp -d "${TMPDIR:-/tmp}/ritsu-deploy-XXXXXX")
cleanup_hooks=()
on_exit() {
  local rc=$?
  for hook in "${cleanup_hooks[@]}"; do eval "$hook" || true; done
  rm -rf "$scratch"
  exit $rc
}
trap on_exit EXIT
trap 'exit 130' INT TERM

export ANSIBLE_CONFIG=$root/ansible/ansible.cfg
export ANSIBLE_HOME=$scratch/ansible-home
export ANSIBLE_LOCAL_TEMP=$scratch/ansible-tmp
export ANSIBLE_REMOTE_TEMP=$scratch/ansible-tmp
export ANSIBLE_NOCOLOR=1
export ANSIBLE_FORCE_COLOR=0
export ANSIBLE_RETRY_FILES_ENABLED=0
export ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }

need_ansible() {
  command -v ansible-playbook >/dev/null || skip "ansible-playbook is not installed (Debian package ansible)"
}

# write_inventory FILE SLOTS_YAML EXTRA_VARS_YAML: localhost as scheduler, worker and client,
# everything under $scratch, services under the plain supervisor.
write_inventory() {
  local file=$1 slots=$2 extra=${3:-}
  cat >"$file" <<YAML
all:
  hosts:
    localhost:
      ansible_connection: local
      ansible_python_interpreter: /usr/bin/python3
  vars:
    ritsu_prefix: $scratch/prefix
    ritsu_config_dir: $scratch/etc
    ritsu_data_dir: $scratch/data
    ritsu_log_dir: $scratch/log
    ritsu_run_dir: $scratch/run
    ritsu_user: $(id -un)
    ritsu_group: $(id -gn)
    ritsu_create_user: false
    ritsu_install_deps: false
    ritsu_service_manager: supervisor
    ritsu_scheduler_bind: 127.0.0.1
    ritsu_scheduler_address: 127.0.0.1
    ritsu_worker_slots: $slots
$extra
  children:
    ritsu_scheduler:
      hosts:
        localhost:
    ritsu_workers:
      hosts:
        localhost:
    ritsu_clients:
      hosts:
        localhost:
YAML
}

# A TCP port nobody listens on right now (the kernel's pick, released again).
free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
