#!/usr/bin/env bash
# Deployment test: every playbook passes `ansible-playbook --syntax-check` against the example
# inventory, and ansible-lint (production profile) finds nothing in ansible/.
source "$(dirname "$0")/lib.sh"
need_ansible
cd "$root/ansible"
for playbook in site.yml check.yml rolling-upgrade.yml; do
  ansible-playbook -i inventories/example/hosts.yml --syntax-check "$playbook" ||
    fail "syntax check of ansible/$playbook"
done
if command -v ansible-lint >/dev/null; then
  ansible-lint --offline --profile production site.yml check.yml rolling-upgrade.yml ||
    fail "ansible-lint found problems in ansible/ (see above)"
else
  echo "note: ansible-lint is not installed; only the syntax was checked"
fi

# The systemd units, rendered as the role renders them, must pass `systemd-analyze verify`
# (binaries stand in as links to /bin/true: verify checks that ExecStart is executable).
if command -v systemd-analyze >/dev/null; then
  mkdir -p "$scratch/bin" "$scratch/units"
  ln -s /bin/true "$scratch/bin/ritsud"
  ln -s /bin/true "$scratch/bin/ritsu-worker"
  cat >"$scratch/render.yml" <<YAML
- name: Render the ritsu units
  hosts: localhost
  gather_facts: false
  roles: [ritsu_defaults]
  vars: {ritsu_bin_dir: "$scratch/bin", ritsu_user: root, ritsu_group: root}
  tasks:
    - name: Render
      ansible.builtin.template:
        src: "$root/ansible/roles/ritsu_services/templates/{{ item }}.j2"
        dest: "$scratch/units/{{ item }}"
        mode: "0644"
      loop: [ritsud.service, ritsu-worker@.service]
YAML
  ANSIBLE_ROLES_PATH=$root/ansible/roles ansible-playbook -i localhost, -c local "$scratch/render.yml" >"$scratch/render.out" 2>&1 ||
    { cat "$scratch/render.out"; fail "rendering the unit templates"; }
  cp "$scratch/units/ritsu-worker@.service" "$scratch/units/ritsu-worker@mig0.service"
  # verify exits 0 on values it ignores ("Failed to parse ..."), so any message is a failure.
  verify_out=$(cd "$scratch/units" && systemd-analyze verify ./ritsud.service ./ritsu-worker@mig0.service 2>&1) ||
    fail "systemd-analyze verify: $verify_out"
  [[ -z $verify_out ]] || fail "systemd-analyze verify complained about the unit templates: $verify_out"
  echo "units: ritsud.service and ritsu-worker@.service verify"
else
  echo "note: systemd-analyze is not installed; the unit files were not verified"
fi
echo "PASS: syntax and lint of site.yml, check.yml, rolling-upgrade.yml"
