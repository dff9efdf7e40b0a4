#!/usr/bin/env bash
# Bring up what the integration tests need on a machine without systemd: apt packages,
# libvirt config (fast domain create), virtlogd + libvirtd, qemu:///system answering.
# Idempotent. Run it (`bash .ci/services.sh`) or source it; env:
#   PYTHON                  interpreter with the project importable (default .venv/bin/python)
#   DEVCLOUD_PREPARE_ARGS   extra args for `python -m appliance.host.prepare` (e.g. --probe)
devcloud_services() {
    local root py args
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    py="${PYTHON:-$root/.venv/bin/python}"
    [ -x "$py" ] || py="$(command -v python3)"
    args="${DEVCLOUD_PREPARE_ARGS:-}"
    # In CI nobody else uses this libvirtd: restart it if it predates qemu.conf.
    [ "${CI:-}" = "true" ] && args="$args --restart"
    # shellcheck disable=SC2086
    (cd "$root" && "$py" -m appliance.host.prepare $args) || return 1
    # libvirt-python builds against libvirt-dev (installed by the step above)
    if ! "$py" -c 'import libvirt' 2>/dev/null; then
        "$py" -m pip install -q 'libvirt-python>=9' || return 1
    fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    devcloud_services
else
    devcloud_services
fi
